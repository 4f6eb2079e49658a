// SPDX-License-Identifier: GPL-2.0

//! transport_params: not written yet.
