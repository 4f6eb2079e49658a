// SPDX-License-Identifier: GPL-2.0

//! crypto: not written yet.
