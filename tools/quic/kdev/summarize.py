#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarize every test result of a run into one verdict.

Reads, from the results directory:
  cargo.txt      `cargo test` output (host unit and integration tests)
  ktap.txt       the guest's kernel log, with the KUnit KTAP report
  kselftest.txt  TAP from `make -C tools/testing/selftests TARGETS=net/quic run_tests`
and the list of KUnit suites the sources declare (expected-suites.txt).

Prints one line per suite and ends with `N passed, N failed`. A skipped
test counts as failed: nothing skips itself into green. A KUnit suite the
sources declare but the kernel did not report, or a KTAP plan with missing
results (a crash mid-run), counts as failed too. Exit status 1 on any
failure.
"""

import os
import re
import sys
from collections import OrderedDict

RESULT = re.compile(r"^(not ok|ok)\s+\d+\s+(?:-\s+)?([^#]*?)\s*(#\s*(.*))?$")


class Suite:
    def __init__(self, name):
        self.name, self.passed, self.failed, self.skipped, self.notes = name, 0, 0, 0, []

    def add(self, ok, directive):
        if directive and directive.upper().startswith("SKIP"):
            self.skipped += 1
        elif ok:
            self.passed += 1
        else:
            self.failed += 1


def current_passed(suite):
    return suite.passed


def parse_cargo(path, suites):
    current = None
    for line in open(path, errors="replace"):
        m = re.match(r"\s*Running (.+?) \((.*)\)\s*$", line)
        if m:
            binary = os.path.basename(m.group(2)).rsplit("-", 1)[0]
            name = "host: %s (%s)" % (binary, m.group(1))
            current = suites.setdefault(name, Suite(name))
            continue
        m = re.match(r"^\s*Doc-tests (\S+)", line)
        if m:
            current = suites.setdefault("host: doctests " + m.group(1), Suite("host: doctests " + m.group(1)))
            continue
        m = re.match(r"^test (.+?) \.\.\. (ok|FAILED|ignored)", line)
        if m and current is not None:
            if m.group(2) == "ignored":
                current.skipped += 1
            else:
                current.add(m.group(2) == "ok", None)
        m = re.match(r"^test result: (ok|FAILED)\. (\d+) passed; (\d+) failed", line)
        if m and current is not None:
            # Cross-check the per-test lines against cargo's own count.
            if int(m.group(2)) != current_passed(current) or int(m.group(3)) > current.failed:
                current.notes.append("cargo counted %s passed, %s failed" % (m.group(2), m.group(3)))
                current.failed = max(current.failed, int(m.group(3)))
        if line.startswith("error") and "could not compile" in line:
            s = suites.setdefault("host: build", Suite("host: build"))
            s.failed += 1
            s.notes.append(line.strip())


def parse_ktap(path, suites, expected):
    """KUnit KTAP: suites are subtests of the top level; their cases one
    level deeper. Parameterised cases nest further and are summarised by
    their parent line."""
    seen = set()
    lines = open(path, errors="replace").read().splitlines()
    # Strip a printk timestamp prefix.
    lines = [re.sub(r"^\[\s*\d+\.\d+\]\s?", "", l) for l in lines]
    stack = []  # (indent, suite or None, plan, count)
    suite = None
    plan = {}
    counts = {}
    for raw in lines:
        indent = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()
        m = re.match(r"^# Subtest: (\S+)", line)
        if m and indent == 4:
            name = m.group(1)
            suite = suites.setdefault("kunit: " + name, Suite("kunit: " + name))
            seen.add(name)
            plan[name] = None
            counts[name] = 0
            continue
        if suite is None:
            continue
        short = suite.name[len("kunit: "):]
        m = re.match(r"^1\.\.(\d+)$", line)
        if m and indent == 4 and plan.get(short) is None:
            plan[short] = int(m.group(1))
            continue
        m = RESULT.match(line)
        if m and indent == 4:
            suite.add(m.group(1) == "ok", m.group(4))
            counts[short] += 1
        elif m and indent == 0:
            suite = None
    for name, p in plan.items():
        if p is not None and counts[name] < p:
            s = suites["kunit: " + name]
            s.failed += p - counts[name]
            s.notes.append("%d of %d results missing (crash?)" % (p - counts[name], p))
    for name in expected:
        if name not in seen:
            s = suites.setdefault("kunit: " + name, Suite("kunit: " + name))
            s.failed += 1
            s.notes.append("declared in the sources but not reported by the kernel")


def parse_tap(path, suites, label):
    """kselftest TAP: the runner's per-program lines and the harness's
    per-case lines (prefixed '# ')."""
    suite = suites.setdefault(label, Suite(label))
    inner = 0
    outer = []
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = re.match(r"^# (not ok|ok) \d+ (\S+)(\s*#\s*(.*))?", line)
        if m:
            suite.add(m.group(1) == "ok", m.group(4))
            inner += 1
            continue
        m = RESULT.match(line)
        if m:
            outer.append((m.group(1) == "ok", m.group(2), m.group(4)))
    for ok, name, directive in outer:
        # A program's own verdict: counted when it printed no cases (it
        # crashed, or is not a harness test) or when it failed.
        if inner == 0 or not ok or (directive and directive.upper().startswith("SKIP")):
            suite.add(ok, directive)
            if not ok:
                suite.notes.append("program failed: " + name)
    if not outer and inner == 0:
        suite.failed += 1
        suite.notes.append("no TAP output")


def parse_plain_tap(path, suites, label):
    """Plain TAP with a plan: every case counts, a short plan fails."""
    suite = suites.setdefault(label, Suite(label))
    planned = None
    seen = 0
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = re.match(r"^1\.\.(\d+)$", line)
        if m:
            planned = int(m.group(1))
            continue
        m = RESULT.match(line)
        if m:
            suite.add(m.group(1) == "ok", m.group(4))
            seen += 1
    if planned is None or seen < planned:
        suite.failed += 1
        suite.notes.append("%d of %s results" % (seen, planned))


def main():
    results = sys.argv[1]
    suites = OrderedDict()
    cargo = os.path.join(results, "cargo.txt")
    if os.path.exists(cargo):
        parse_cargo(cargo, suites)
        rc_path = os.path.join(results, "cargo.rc")
        rc = open(rc_path).read().strip() if os.path.exists(rc_path) else "0"
        if rc != "0" and not any(s.failed for n, s in suites.items() if n.startswith("host")):
            s = suites.setdefault("host: cargo", Suite("host: cargo"))
            s.failed += 1
            s.notes.append("cargo test exited %s: see cargo.txt" % rc)
    ktap = os.path.join(results, "ktap.txt")
    if not os.path.exists(ktap) and os.path.exists(os.path.join(results, "vm.log")):
        # The guest died before it could save its log: use the console.
        ktap = os.path.join(results, "vm.log")
    expected_path = os.path.join(results, "expected-suites.txt")
    expected = open(expected_path).read().split() if os.path.exists(expected_path) else []
    if os.path.exists(ktap):
        parse_ktap(ktap, suites, expected)
    elif expected:
        s = suites.setdefault("kunit", Suite("kunit"))
        s.failed += 1
        s.notes.append("no kernel log: the guest did not run")
    kself = os.path.join(results, "kselftest.txt")
    if os.path.exists(kself):
        parse_tap(kself, suites, "kselftest: net/quic")
    elif os.path.exists(ktap):
        s = suites.setdefault("kselftest: net/quic", Suite("kselftest: net/quic"))
        s.failed += 1
        s.notes.append("no kselftest output")

    tls = os.path.join(results, "tls.tap")
    tls_label = "interop: rustls handshakes over kernel QUIC"
    if os.path.exists(tls):
        parse_plain_tap(tls, suites, tls_label)
    elif os.path.exists(ktap):
        s = suites.setdefault(tls_label, Suite(tls_label))
        s.failed += 1
        s.notes.append("no output: quic-echo missing or the guest stopped early")

    checks = os.path.join(results, "checks.txt")
    if os.path.exists(checks):
        parse_tap(checks, suites, "checks: build, lint, style")
    problems = os.path.join(results, "dmesg-problems.txt")
    if os.path.exists(problems) and open(problems).read().strip():
        s = suites.setdefault("kernel log", Suite("kernel log"))
        s.failed += 1
        s.notes.append("BUG/WARNING/Oops in the guest's log: see dmesg-problems.txt")

    passed = failed = 0
    width = max([len(s.name) for s in suites.values()] + [10])
    print("%-*s %6s %6s %6s" % (width, "suite", "pass", "fail", "skip"))
    for s in suites.values():
        print("%-*s %6d %6d %6d%s" % (width, s.name, s.passed, s.failed, s.skipped,
                                      ("  (" + "; ".join(s.notes) + ")") if s.notes else ""))
        passed += s.passed
        failed += s.failed + s.skipped
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
