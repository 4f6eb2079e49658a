// SPDX-License-Identifier: GPL-2.0

//! path: not written yet.
