// SPDX-License-Identifier: GPL-2.0

//! `RangeSet` operations against a reference model.
//!
//! The input is a script of insert, insert_one, remove, remove_below,
//! pop_min, truncate_low and clear operations on values drawn from a small
//! space (so ranges touch and overlap) or anywhere in `u64`. After each
//! operation the set must equal the model (a sorted list of disjoint,
//! non-adjacent ranges rebuilt from scratch), keep its invariants, and
//! answer contains/contains_range/min/max like the model.

#![no_main]

use core::ops::Range;
use libfuzzer_sys::fuzz_target;
use quic_fuzz::Input;
use quic_protocol::protocol::range_set::RangeSet;

/// The model: ranges kept sorted, disjoint and non-adjacent by brute force.
#[derive(Default, Debug)]
struct Model(Vec<Range<u64>>);

impl Model {
    fn normalize(&mut self) {
        self.0.retain(|r| r.start < r.end);
        self.0.sort_by_key(|r| r.start);
        let mut out: Vec<Range<u64>> = Vec::new();
        for r in self.0.drain(..) {
            match out.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => out.push(r),
            }
        }
        self.0 = out;
    }

    fn contains(&self, v: u64) -> bool {
        self.0.iter().any(|r| r.contains(&v))
    }

    fn contains_range(&self, range: &Range<u64>) -> bool {
        range.start >= range.end
            || self
                .0
                .iter()
                .any(|r| r.start <= range.start && range.end <= r.end)
    }

    fn insert(&mut self, range: Range<u64>) -> bool {
        let new = !self.contains_range(&range);
        self.0.push(range);
        self.normalize();
        new
    }

    fn remove(&mut self, range: &Range<u64>) {
        if range.start >= range.end {
            return;
        }
        let mut out = Vec::new();
        for r in self.0.drain(..) {
            if r.end <= range.start || r.start >= range.end {
                out.push(r);
                continue;
            }
            if r.start < range.start {
                out.push(r.start..range.start);
            }
            if r.end > range.end {
                out.push(range.end..r.end);
            }
        }
        self.0 = out;
        self.normalize();
    }
}

fn value(input: &mut Input<'_>, small: bool) -> u64 {
    if small {
        input.below(64)
    } else {
        match input.u8() % 4 {
            0 => u64::MAX - input.below(4),
            _ => input.scaled(64),
        }
    }
}

fn range(input: &mut Input<'_>, small: bool) -> Range<u64> {
    let a = value(input, small);
    let b = if input.u8() % 4 == 0 {
        value(input, small)
    } else {
        a.saturating_add(input.below(if small { 8 } else { 1 << 20 }))
    };
    a..b
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let small = input.bool();
    let mut set = RangeSet::new();
    let mut model = Model::default();
    let mut ops = 0;
    while !input.is_empty() && ops < 10_000 {
        ops += 1;
        match input.u8() % 8 {
            0 | 1 => {
                let r = range(&mut input, small);
                let new = set.insert(r.clone()).expect("alloc");
                assert_eq!(new, model.insert(r.clone()), "insert {r:?}");
            }
            2 => {
                let v = value(&mut input, small);
                let new = set.insert_one(v).expect("alloc");
                if v == u64::MAX {
                    // u64::MAX cannot be stored: a half-open range ends at
                    // it at most.
                    assert!(!new);
                } else {
                    assert_eq!(new, model.insert(v..v + 1), "insert_one {v}");
                }
            }
            3 => {
                let r = range(&mut input, small);
                set.remove(r.clone()).expect("alloc");
                model.remove(&r);
            }
            4 => {
                let bound = value(&mut input, small);
                set.remove_below(bound);
                model.remove(&(0..bound));
            }
            5 => {
                let got = set.pop_min();
                let want = (!model.0.is_empty()).then(|| model.0.remove(0));
                assert_eq!(got, want);
            }
            6 => {
                let max = input.index(8);
                set.truncate_low(max);
                let n = model.0.len();
                if n > max {
                    model.0.drain(..n - max);
                }
            }
            _ => {
                if input.u8() == 0 {
                    set.clear();
                    model.0.clear();
                }
                let v = value(&mut input, small);
                assert_eq!(set.contains(v), model.contains(v), "contains {v}");
                let r = range(&mut input, small);
                assert_eq!(
                    set.contains_range(r.clone()),
                    model.contains_range(&r),
                    "contains_range {r:?}"
                );
            }
        }
        let got: Vec<_> = set.iter().collect();
        assert_eq!(got, model.0);
        assert_eq!(set.len(), model.0.len());
        assert_eq!(set.is_empty(), model.0.is_empty());
        assert_eq!(set.min(), model.0.first().map(|r| r.start));
        assert_eq!(set.max(), model.0.last().map(|r| r.end - 1));
        assert_eq!(set.iter().rev().count(), got.len());
        for pair in got.windows(2) {
            assert!(pair[0].start < pair[0].end && pair[0].end < pair[1].start);
        }
    }
});
