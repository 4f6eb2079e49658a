// SPDX-License-Identifier: GPL-2.0

//! frame: not written yet.
