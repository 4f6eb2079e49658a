// SPDX-License-Identifier: GPL-2.0

//! packet: not written yet.
