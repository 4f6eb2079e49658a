// SPDX-License-Identifier: GPL-2.0

//! recovery: not written yet.
