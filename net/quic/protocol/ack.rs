// SPDX-License-Identifier: GPL-2.0

//! ack: not written yet.
