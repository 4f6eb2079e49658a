// SPDX-License-Identifier: GPL-2.0

//! stream: not written yet.
