#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Report functions of an x86_64 object whose stack frame exceeds a limit.

Kernel stacks are 16 KiB: one large frame (a big array or a large struct
moved by value) can overflow it, as KUnit showed. Usage:
  stack-frames.py [--match REGEX] [--objdump PROG] OBJECT LIMIT_BYTES
Exits 1 if any function's frame is over the limit.

A function's frame is what its prologue subtracts from %rsp. The kernel
object has one `sub $N,%rsp`; host (user space) code probes the stack page
by page, either unrolled (`sub $0x1000,%rsp; movq $0,(%rsp)` repeated, then
the rest) or in a loop bounded by `%r11` (`mov %rsp,%r11; sub $N,%r11`):
both forms are added up. --match keeps only the functions whose demangled
name matches REGEX (the host test binary also holds std and the test
harness). The disassembler is --objdump, else $OBJDUMP, else the first of
llvm-objdump-19, llvm-objdump and objdump found.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

SUB_RSP = re.compile(r"\bsubq?\s+\$0x([0-9a-f]+),\s*%rsp\b")
SUB_R11 = re.compile(r"\bsubq?\s+\$0x([0-9a-f]+),\s*%r11\b")
MOV_RSP_R11 = re.compile(r"\bmovq?\s+%rsp,\s*%r11\b")
PROBE = re.compile(r"\b(mov|or)q?\s+\$0x0,\s*\(%rsp\)")
LABEL = re.compile(r"^[0-9a-f]+ <(.*)>:$")


def objdump_program(requested):
    for prog in (requested, os.environ.get("OBJDUMP"), "llvm-objdump-19",
                 "llvm-objdump", "objdump"):
        if prog and shutil.which(prog):
            return prog
    sys.exit("stack-frames.py: no objdump found")


def frames(lines):
    """Yields (function, frame bytes) for every function with a frame."""
    fn, worst, run, loop = None, 0, 0, 0
    mov_r11 = False
    for line in lines:
        m = LABEL.match(line)
        if m:
            if fn is not None and worst:
                yield fn, worst
            fn, worst, run, loop, mov_r11 = m.group(1), 0, 0, 0, False
            continue
        if fn is None:
            continue
        m = SUB_RSP.search(line)
        if m:
            n = int(m.group(1), 16)
            if loop and n == 0x1000:
                continue  # the probing loop's step, counted in `loop`
            run += n
            worst = max(worst, loop + run)
            continue
        if PROBE.search(line):
            continue
        if MOV_RSP_R11.search(line):
            mov_r11 = True
            continue
        m = SUB_R11.search(line)
        if m and mov_r11:
            loop = int(m.group(1), 16)
            worst = max(worst, loop)
            mov_r11 = False
            continue
        if line.strip():
            run = 0
    if fn is not None and worst:
        yield fn, worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--match", help="only functions whose name matches REGEX")
    ap.add_argument("--objdump", help="the objdump program")
    ap.add_argument("object")
    ap.add_argument("limit", type=int)
    args = ap.parse_args()
    dis = subprocess.run([objdump_program(args.objdump), "-d", "--no-show-raw-insn",
                          "--demangle", args.object],
                         capture_output=True, text=True, check=True).stdout
    keep = re.compile(args.match) if args.match else None
    worst = {}
    for fn, n in frames(dis.splitlines()):
        if keep is None or keep.search(fn):
            worst[fn] = max(worst.get(fn, 0), n)
    over = sorted(((v, f) for f, v in worst.items() if v > args.limit), reverse=True)
    for v, f in over:
        print("%6d bytes  %s" % (v, f))
    print("%d functions with a frame over %d bytes (largest: %d)"
          % (len(over), args.limit, max(worst.values()) if worst else 0))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
