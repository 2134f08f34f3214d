# -*- Python -*-
# The seqc lit suite: dialect round trips and diagnostics, passes, docs.

import os
import subprocess

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "seqc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit",
                   "reference", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.seqc_obj_root, "test")

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%seqc_src_root", config.seqc_src_root))
config.substitutions.append(("%seqc_obj_root", config.seqc_obj_root))

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tools = [ToolSubst("seqc-opt", unresolved="fatal"),
         ToolSubst("seqc", unresolved="fatal"),
         ToolSubst("seqc-run", unresolved="fatal"),
         ToolSubst("SeqcRuntimeTests", unresolved="fatal"),
         ToolSubst("mlir-runner", unresolved="fatal"),
         ToolSubst("seqc-vulkan-run", unresolved="ignore"),
         ToolSubst("seqc-cuda-run", unresolved="fatal")]
llvm_config.add_tool_substitutions(tools, [config.seqc_tools_dir,
                                           config.llvm_tools_dir])

# A C compiler for programs that link the runtime: in a sanitizer build
# (scripts/configure.sh --sanitize | --fuzz) libseqcrt.so takes ASan and
# UBSan from the program, which must then be built with them.
if config.seqc_sanitize:
    config.substitutions.append(
        ("%cc", "clang-22 -fsanitize=address,undefined"))
    config.available_features.add("sanitize")
else:
    config.substitutions.append(("%cc", "cc"))

# ../shared/data holds the tokenizer vocabularies and the training text.
shared_data = os.path.normpath(os.path.join(config.seqc_src_root, "..",
                                            "shared", "data"))
if os.path.isdir(shared_data):
    config.available_features.add("shared-data")
    config.substitutions.append(("%shared_data", shared_data))
else:
    lit_config.note("../shared/data is absent: tests that REQUIRE shared-data "
                    "are skipped")

# Execution on the CPU: mlir-runner with MLIR's runtime support libraries
# (the async runtime for loops seq-cpu-pipeline spreads over threads; such
# programs need mlir-runner -O1 or more, which splits the coroutines).
runner_libs = ",".join(os.path.join(config.llvm_lib_dir, lib) for lib in
                       ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so",
                        "libmlir_async_runtime.so"))
config.substitutions.append(("%mlir_runner_libs", runner_libs))

# The integer kernels of int8 products (seq-parallelize-products int8-dot)
# run where this CPU has their instructions.
try:
    with open("/proc/cpuinfo") as f:
        flags = next((l.split(":", 1)[1].split() for l in f
                      if l.startswith("flags")), [])
except OSError:
    flags = []
for feature, needs in (("cpu-avx2", ["avx2"]), ("cpu-avxvnni", ["avx_vnni"]),
                       ("cpu-avx512vnni", ["avx512_vnni", "avx512bw"])):
    if all(f in flags for f in needs):
        config.available_features.add(feature)
    else:
        lit_config.note(f"this CPU lacks {', '.join(needs)}: {feature} "
                        "execution tests are skipped")

# The numpy references run under Debian's python3 with python3-numpy.
config.substitutions.append(("%python", config.python_executable))
if subprocess.call([config.python_executable, "-c", "import numpy"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("numpy")
else:
    lit_config.note("numpy is missing for " + config.python_executable +
                    ": tests against the numpy references are skipped")

# Transparent huge pages the runtime may ask for (madvise or always):
# --weight-pages=huge-copy is then expected to get them.
try:
    with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
        if "[never]" not in f.read():
            config.available_features.add("thp")
except OSError:
    pass

# The NIR interoperability tests (--target=neuro) read model.nir with the
# `nir` package and simulate populations in snnTorch: a venv that
# scripts/setup.sh makes (SEQC_PYENV, default <source>/.venv) over Debian's
# python3 (numpy, h5py, torch). Without it they are unsupported.
nir_python = os.path.join(os.environ.get(
    "SEQC_PYENV", os.path.join(config.seqc_src_root, ".venv")), "bin", "python")
config.substitutions.append(("%nir_python", nir_python))
if not os.path.exists(nir_python):
    lit_config.note(nir_python + " is missing (scripts/setup.sh makes it): "
                    "the NIR interoperability tests are skipped")
else:
    for feature, probe in (("nir", "import nir, h5py"),
                           ("snntorch", "import torch, snntorch; "
                            "from snntorch.import_nir import import_from_nir")):
        if subprocess.call([nir_python, "-c", probe], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL) == 0:
            config.available_features.add(feature)
        else:
            lit_config.note(f"{nir_python} cannot `{probe}`: tests that "
                            f"need {feature} are skipped")

# The Vulkan target. spirv-val (spirv-tools) validates its SPIR-V;
# seqc-vulkan-run (built with SEQC_ENABLE_VULKAN) runs it on the first device:
# lavapipe, selected explicitly when its ICD is installed, so that another
# driver on the machine does not change what the tests see. Execution tests
# also REQUIRE the Khronos validation layer (they fail on any message).
import shutil
if shutil.which("spirv-val"):
    config.available_features.add("spirv-tools")
else:
    lit_config.note("spirv-val is missing (spirv-tools): SPIR-V validation "
                    "tests are skipped")
vulkan_run = os.path.join(config.seqc_tools_dir, "seqc-vulkan-run")
if os.path.exists(vulkan_run):
    config.available_features.add("vulkan-driver")
    lavapipe = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"
    if os.path.exists(lavapipe):
        config.environment["VK_ICD_FILENAMES"] = lavapipe
        config.environment["VK_DRIVER_FILES"] = lavapipe
    if subprocess.call([vulkan_run, "--devices"], env=config.environment,
                       stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL) == 0:
        config.available_features.add("vulkan")
    else:
        lit_config.note("no Vulkan device (for lavapipe: mesa-vulkan-drivers): "
                        "Vulkan execution tests are skipped")
    layer_dirs = ["/usr/share/vulkan/explicit_layer.d",
                  "/etc/vulkan/explicit_layer.d",
                  "/usr/local/share/vulkan/explicit_layer.d"]
    if any(os.path.exists(os.path.join(d, "VkLayer_khronos_validation.json"))
           for d in layer_dirs):
        config.available_features.add("vulkan-validation")
    else:
        lit_config.note("the Khronos validation layer is missing "
                        "(vulkan-validationlayers): Vulkan execution tests "
                        "are skipped")
else:
    lit_config.note("seqc-vulkan-run was not built (SEQC_ENABLE_VULKAN off): "
                    "Vulkan execution tests are skipped")

# The CUDA target. The toolkit (ptxas and libdevice compile the kernels;
# cuda.h and the stub libcuda check the driver's entry points) is optional:
# without it the CUDA compile tests are skipped. seqc-cuda-run is always
# built (it opens libcuda.so.1 at run time); --probe finds whether this
# machine has a CUDA device, which the execution tests need.
cuda_toolkit = os.environ.get("SEQC_CUDA_TOOLKIT", "/usr/local/cuda")
if all(os.path.exists(os.path.join(cuda_toolkit, f)) for f in
       ("bin/ptxas", "nvvm/libdevice/libdevice.10.bc", "include/cuda.h",
        "lib64/stubs/libcuda.so")):
    config.available_features.add("cuda-toolkit")
    config.substitutions.append(("%cuda_toolkit", cuda_toolkit))
    # seqc's default toolkit is $CUDA_HOME, else /usr/local/cuda.
    config.environment["CUDA_HOME"] = cuda_toolkit
else:
    lit_config.note(f"no CUDA toolkit at {cuda_toolkit} (SEQC_CUDA_TOOLKIT): "
                    "CUDA compile tests are skipped")
cuda_run = os.path.join(config.seqc_tools_dir, "seqc-cuda-run")
if os.path.exists(cuda_run) and subprocess.call(
        [cuda_run, "--probe"], env=config.environment,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("cuda-device")
else:
    lit_config.note("no CUDA device (seqc-cuda-run --probe): CUDA execution "
                    "tests are skipped")
