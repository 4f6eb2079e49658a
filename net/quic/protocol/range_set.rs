// SPDX-License-Identifier: GPL-2.0

//! range_set: not written yet.
