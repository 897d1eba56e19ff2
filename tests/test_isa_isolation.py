"""One binary, any x86-64: the built module holds no AVX2/AVX-512 code outside ISA kernels.

See Note [ISA units share no inline code] in CMakeLists.txt. ISA-specific translation units
(csrc/**/*_avx2.cpp, *_avx512*.cpp) are compiled with -m flags. Any inline function or
template they instantiate (std::vector<float>::_M_default_append, ...) is, by default, a
weak symbol that the linker merges with the generic objects' copies; when the ISA copy wins,
AVX-512 code runs on every CPU and an AVX2 host dies with SIGILL.

Two checks, both on what was actually built:

* the module (whatever `nn_core._C` is imported: the in-place build or an installed wheel):
  `objdump -d` split into functions by the symbol table (addresses and sizes, so a stripped
  module is split by its dynamic symbols); every global or weak function whose demangled
  name carries no ISA marker (avx2, avx512, amx, vnni) must contain no AVX2/AVX-512
  instruction: no ymm/zmm or k-mask register, no VEX/EVEX (v-prefixed) SIMD mnemonic, no
  AMX tile instruction. Local functions may: the linker never binds another object to them.
* the objects (in-place builds, where <root>/build/CMakeFiles holds them; skipped for a
  wheel): an ISA object defines no global or weak symbol without an ISA marker, so nothing
  it instantiates can be merged with or called from generic code, and no unique/weak data
  or local data outside anonymous namespaces and ISA-named functions: an inline variable or
  an inline function's static used there would become a private copy under -fno-weak (GCC
  warns "semantics of inline variable ... are wrong" for core/allocator.h's
  tl_allocator_override in units that include it; none of them uses it, which this checks).

The module check sees only what the symbol table calls global or weak; a weak symbol that
the link made hidden (bindings are built with -fvisibility=hidden) shows up local, so the
object check is the complete one, the module check the one that also runs on wheels.
Skips cleanly where objdump / nm are absent or the platform is not x86-64.
"""
import bisect
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import nn_core

pytestmark = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"), reason="x86-64 only: ISA units exist only there")

ISA_MARKER = re.compile(r"avx2|avx512|amx|vnni", re.IGNORECASE)
# ymm/zmm vectors and AVX-512 mask registers (k0..k7, also as {%k1} write masks).
AVX_REGISTER = re.compile(r"%[yz]mm\d+|%k[0-7]\b")
# VMX/SVM virtualisation instructions are v-prefixed but not SIMD.
NON_SIMD_V = {"verr", "verw", "vmcall", "vmlaunch", "vmresume", "vmxoff", "vmxon", "vmread",
              "vmwrite", "vmptrld", "vmptrst", "vmclear", "vmfunc", "vmrun", "vmload", "vmsave",
              "vmmcall"}
AMX_MNEMONIC = re.compile(r"^(tile|ldtilecfg|sttilecfg|tdpb)")
INSTRUCTION = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")
# objdump -t / -T: address, 7 flag columns, section, [alignment|size], [version], name
SYMBOL = re.compile(r"^([0-9a-f]+) (.{7}) (\S+)\s+([0-9a-f]+)\s+(.*)$")
ALLOWED_ISA_DATA = {"DW.ref.__gxx_personality_v0"}  # a pointer to libstdc++'s personality routine


def is_avx_instruction(mnemonic, operands):
    if mnemonic in ("{vex}", "{evex}") or AVX_REGISTER.search(operands):
        return True
    if mnemonic.startswith("v") and mnemonic not in NON_SIMD_V:
        return True
    return bool(AMX_MNEMONIC.match(mnemonic))


def _tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} (binutils) is not installed")
    return path


def _run(args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def module_functions(module_path):
    """[(start, end, binding, name)] for every sized function symbol, sorted by start."""
    objdump = _tool("objdump")
    text = _run([objdump, "-t", "-C", module_path])
    if "no symbols" in text or not any(" F " in line for line in text.splitlines()):
        text = _run([objdump, "-T", "-C", module_path])  # stripped: the dynamic symbols
    functions = []
    for line in text.splitlines():
        m = SYMBOL.match(line)
        if not m or m.group(2)[6] != "F":
            continue
        start, size = int(m.group(1), 16), int(m.group(4), 16)
        if size == 0:
            continue
        flags = m.group(2)
        binding = "weak" if flags[1] == "w" else {"l": "local", "g": "global", "u": "unique"}.get(flags[0], "local")
        # -T puts the symbol version (e.g. "Base") before the name, two spaces or more apart.
        name = m.group(5).split("  ")[-1].strip()
        name = re.sub(r"^\.hidden\s+", "", name)
        functions.append((start, start + size, binding, name))
    functions.sort()
    return functions


def avx_instruction_addresses(module_path):
    """{address: instruction text} of every AVX2/AVX-512/AMX instruction in the module."""
    objdump = _tool("objdump")
    found = {}
    with subprocess.Popen([objdump, "-d", "--no-show-raw-insn", module_path], stdout=subprocess.PIPE,
                          text=True) as proc:
        for line in proc.stdout:
            # cheap filter first: a million lines, few of them candidates
            if ":\tv" not in line and "mm" not in line and "%k" not in line and ":\tt" not in line \
                    and ":\tldt" not in line and ":\tstt" not in line and ":\t{" not in line:
                continue
            m = INSTRUCTION.match(line)
            if m and is_avx_instruction(m.group(2), m.group(3)):
                found[int(m.group(1), 16)] = (m.group(2) + " " + m.group(3)).strip()
    assert proc.returncode == 0, "objdump -d failed"
    return found


def functions_with_avx(functions, avx):
    """{(start, binding, name): first AVX instruction} for the functions holding one."""
    addresses = sorted(avx)
    hits = {}
    for start, end, binding, name in functions:
        i = bisect.bisect_left(addresses, start)
        if i < len(addresses) and addresses[i] < end:
            hits.setdefault((start, binding, name), f"{addresses[i]:#x}: {avx[addresses[i]]}")
    return hits


def leaks(hits):
    return sorted(f"{binding} {name}  [{insn}]" for (start, binding, name), insn in hits.items()
                  if binding != "local" and not ISA_MARKER.search(name))


def test_classifier_recognises_avx_and_generic_instructions():
    assert is_avx_instruction("vmovups", "%ymm0,(%rdi)")
    assert is_avx_instruction("vmovdqu8", "%zmm1,(%rax){%k1}")
    assert is_avx_instruction("kmovw", "%k1,%eax")
    assert is_avx_instruction("vfmadd231ps", "%xmm2,%xmm1,%xmm0")
    assert is_avx_instruction("tileloadd", "(%rax,%rcx,1),%tmm0")
    assert is_avx_instruction("{vex}", "vpdpbusd %xmm2,%xmm1,%xmm0")
    assert not is_avx_instruction("movups", "%xmm0,(%rdi)")
    assert not is_avx_instruction("mov", "%rax,%rbx")
    assert not is_avx_instruction("verw", "(%rax)")
    assert not is_avx_instruction("kill_me_not", "%rkx")  # not a register: only %k0..%k7 count


def test_module_has_no_avx_outside_isa_functions():
    module_path = nn_core._C.__file__
    functions = module_functions(module_path)
    if not any(b != "local" for _, _, b, _ in functions):
        pytest.skip(f"{module_path}: no global or weak function symbols to inspect")
    avx = avx_instruction_addresses(module_path)
    hits = functions_with_avx(functions, avx)
    # The ISA kernels are there and are found (guards the test against matching nothing).
    assert any(ISA_MARKER.search(name) for (_, _, name) in hits), \
        f"{module_path}: no AVX code found in any ISA-named function; the objdump parsing is broken"
    bad = leaks(hits)
    assert not bad, (
        f"{module_path}: {len(bad)} global/weak function(s) outside the ISA kernels contain AVX2/AVX-512 "
        "code (an ISA unit's inline/template instantiation won the link; see Note [ISA units share no "
        "inline code] in CMakeLists.txt):\n  " + "\n  ".join(bad[:40]))


def _build_objects():
    """(ISA objects, other objects) of the build that produced the imported module, or None."""
    module = Path(nn_core._C.__file__).resolve()
    candidates = [os.environ.get("NN_CORE_BUILD_DIR"), module.parents[1] / "build", module.parents[2]]
    for candidate in candidates:
        if candidate and (Path(candidate) / "CMakeFiles" / "nn_core_cpu.dir").is_dir():
            objects = sorted((Path(candidate) / "CMakeFiles").rglob("*.o"))
            isa = [o for o in objects if re.search(r"_avx[0-9a-z]*\.cpp\.o$", o.name)]
            return isa, [o for o in objects if o not in isa]
    return None


def _nm(args, objects):
    """[(object name, nm type, demangled name)] from one nm run over several objects."""
    out = _run([_tool("nm"), "-C", "-A", *args, *map(str, objects)])
    symbols = []
    for line in out.splitlines():
        path, sep, rest = line.partition(".o:")
        fields = rest.split(maxsplit=2) if not rest.startswith(" ") else ["", *rest.split(maxsplit=1)]
        if sep and len(fields) == 3:
            symbols.append((Path(path + ".o").name, fields[1], fields[2]))
    return symbols


def _private_data(name):
    """Local data an ISA unit may own: anonymous-namespace variables, statics of ISA-named
    functions, compiler-internal labels and guards."""
    return ("(anonymous namespace)" in name or bool(ISA_MARKER.search(name)) or name.startswith(".")
            or name in ("__tls_guard", "completed.0") or name.startswith("guard variable for"))


def test_isa_objects_export_only_isa_named_symbols():
    found = _build_objects()
    if found is None:
        pytest.skip("no build directory with object files beside the module (installed wheel)")
    isa_objects, other_objects = found
    assert isa_objects, "the build has no *_avx*.cpp.o objects"
    exported = {}  # name -> (nm type, [ISA objects defining it])
    for obj, kind, name in _nm(["--defined-only"], isa_objects):
        if (kind.isupper() and kind != "U") or kind in "uvw":  # global, weak or unique
            exported.setdefault(name, (kind, []))[1].append(obj)
        elif kind in "bdgrs" and not _private_data(name):
            # local data that is neither file-private nor owned by an ISA-named function: an
            # inline variable or an inline function's static, duplicated by -fno-weak
            exported.setdefault(name, (kind, []))[1].append(obj)
    generic = {name for _, kind, name in _nm([], other_objects) if kind in "UWVuvw"}
    bad = sorted(f"{kind} {name}  (defined in {', '.join(objs)}"
                 f"{'; generic objects use or define it too' if name in generic else ''})"
                 for name, (kind, objs) in exported.items()
                 if not ISA_MARKER.search(name) and name not in ALLOWED_ISA_DATA)
    assert not bad, (
        f"{len(bad)} global/weak/unique symbol(s) defined in ISA objects carry no ISA marker: the linker "
        "may merge them with generic copies, or (data) -fno-weak would duplicate a program-wide object. "
        "See Note [ISA units share no inline code] in CMakeLists.txt:\n  " + "\n  ".join(bad[:40]))
