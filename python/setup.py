"""Puts liblatte.so into the package: the one `make demo` built (../.build/release), or
built with swift here when it is missing. LATTE_LIBRARY_SOURCE names another build."""
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILT = os.path.join(ROOT, ".build", "release", "liblatte-c.so")


def library():
    path = os.environ.get("LATTE_LIBRARY_SOURCE", BUILT)
    if not os.path.exists(path):
        if not os.path.exists(os.path.join(ROOT, "Package.swift")):
            raise SystemExit(f"latte: no {path} and no Package.swift above {HERE} to build it from")
        subprocess.run(["swift", "build", "-c", "release", "--product", "latte-c"], cwd=ROOT, check=True)
    return path


def swift_runtime(path):
    """The Swift runtime libraries `path` links to (ldd), copied beside it: the library's
    RUNPATH has $ORIGIN, so the package works where no Swift toolchain is installed."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        parts = line.split("=>")
        if len(parts) == 2 and "/lib/swift/" in parts[1]:
            found.append(parts[1].split("(")[0].strip())
    return found


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        folder = os.path.join(self.build_lib, "latte")
        os.makedirs(folder, exist_ok=True)
        source = library()
        shutil.copyfile(source, os.path.join(folder, "liblatte.so"))
        for dep in swift_runtime(source):
            shutil.copyfile(dep, os.path.join(folder, os.path.basename(dep)))


class BinaryDistribution(Distribution):
    """A platform wheel: the package holds a native library."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
