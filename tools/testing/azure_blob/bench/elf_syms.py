#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# elf_syms.py FILE...: the function symbols of x86_64 ELF files, for the
# attribution of the benchmark's user-space profile (bench/vm_profile.py).
# Runs in the guest, on the files the measured clients had mapped, with
# nothing but Python's standard library. For each FILE, on stdout:
#
#	F <path>
#	B <build id>			(hex, when the file has one)
#	L <file offset> <vaddr> <size>	(each executable PT_LOAD segment)
#	S <vaddr> <size> <name>		(each function, hex addresses)
#
# Symbols come from .symtab when the file has one, else from .dynsym (the
# exported functions only: Debian strips the rest), and, for a Go program
# without .symtab, from its .gopclntab (every function, sizes up to the
# next). A file that is no ELF file gets its F line only. The build id
# lets the host use a detached debug file of the same build instead.
#
# Copyright (c) 2026 The hv_azure_blob authors

import struct
import sys

PT_LOAD, PF_X = 1, 1
SHT_SYMTAB, SHT_NOTE, SHT_DYNSYM = 2, 7, 11
NT_GNU_BUILD_ID = 3
STT_FUNC, STT_GNU_IFUNC = 2, 10


def sections(d):
    shoff, = struct.unpack_from("<Q", d, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", d, 0x3a)
    secs = []
    for i in range(shnum):
        secs.append(struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * shentsize))
    names = {}
    if shstrndx < len(secs):
        stroff = secs[shstrndx][4]
        for s in secs:
            end = d.index(b"\0", stroff + s[0])
            names[d[stroff + s[0]:end].decode(errors="replace")] = s
    return secs, names


def elf_funcs(d, secs, kind):
    out = []
    for s in secs:
        if s[1] != kind:
            continue
        strtab = secs[s[6]]
        for off in range(s[4], s[4] + s[5], 24):
            name, info, _, shndx, value, size = struct.unpack_from(
                "<IBBHQQ", d, off)
            if shndx == 0 or (info & 0xf) not in (STT_FUNC, STT_GNU_IFUNC):
                continue
            p = strtab[4] + name
            out.append((value, size, d[p:d.index(b"\0", p)].decode(
                errors="replace")))
    return out


def go_funcs(d, names):
    """Functions of Go 1.18 or later's pclntab (magic 0xfffffff0/1)."""
    s = names.get(".gopclntab")
    text = names.get(".text")
    if not s or not text:
        return []
    base = s[4]
    magic, = struct.unpack_from("<I", d, base)
    if magic not in (0xfffffff0, 0xfffffff1) or d[base + 7] != 8:
        return []
    nfunc, _, text_start, nameoff, _, _, _, pclnoff = struct.unpack_from(
        "<QQQQQQQQ", d, base + 8)
    if not text_start:
        text_start = text[3]
    out = []
    tab = base + pclnoff
    entries = [struct.unpack_from("<II", d, tab + 8 * i) for i in range(nfunc + 1)]
    for i in range(nfunc):
        entry, funcoff = entries[i]
        noff, = struct.unpack_from("<i", d, tab + funcoff + 4)
        p = base + nameoff + noff
        name = d[p:d.index(b"\0", p)].decode(errors="replace")
        out.append((text_start + entry, entries[i + 1][0] - entry, name))
    return out


def build_id(d, secs):
    for s in secs:
        if s[1] != SHT_NOTE:
            continue
        off, end = s[4], s[4] + s[5]
        while off + 12 <= end:
            namesz, descsz, typ = struct.unpack_from("<III", d, off)
            name = d[off + 12:off + 12 + namesz]
            desc = off + 12 + ((namesz + 3) & ~3)
            if typ == NT_GNU_BUILD_ID and name == b"GNU\0":
                return d[desc:desc + descsz].hex()
            off = desc + ((descsz + 3) & ~3)
    return None


def one(path):
    print("F %s" % path)
    try:
        with open(path, "rb") as f:
            d = f.read()
    except OSError:
        return
    if d[:4] != b"\x7fELF" or d[4] != 2 or d[5] != 1:
        return
    secs, names = sections(d)
    bid = build_id(d, secs)
    if bid:
        print("B %s" % bid)
    phoff, = struct.unpack_from("<Q", d, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", d, 0x36)
    for i in range(phnum):
        typ, flags, off, vaddr, _, filesz, _, _ = struct.unpack_from(
            "<IIQQQQQQ", d, phoff + i * phentsize)
        if typ == PT_LOAD and flags & PF_X:
            print("L %x %x %x" % (off, vaddr, filesz))
    funcs = elf_funcs(d, secs, SHT_SYMTAB)
    if not funcs:
        funcs = go_funcs(d, names)
    if not funcs:
        funcs = elf_funcs(d, secs, SHT_DYNSYM)
    seen = set()
    for value, size, name in sorted(funcs):
        if value in seen:
            continue
        seen.add(value)
        print("S %x %x %s" % (value, size, name))


def main():
    for path in sys.argv[1:]:
        one(path)


if __name__ == "__main__":
    main()
