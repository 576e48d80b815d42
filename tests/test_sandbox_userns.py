"""Inside the sandbox no user namespace can be made (``unshare -Ur`` fails), and the sandbox is as before.

A process that can create a user namespace maps itself root there and reaches
kernel code only root could reach (mounts, network set-up, most local
exploits). bubblewrap's ``--disable-userns`` forbids it; the test runs real
cells in the real sandbox.
"""

from __future__ import annotations

import os

import pytest

from autograder.preprocessors.sandbox import bwrap_disables_userns
from tests.test_sandbox_limits import run_cells
from tests.conftest import requires

pytestmark = [pytest.mark.sandbox, requires("bubblewrap --disable-userns", bwrap_disables_userns,
                                        "this bubblewrap cannot disable user namespaces")]


def test_unshare_fails_inside_the_sandbox_and_the_kernel_works_as_before(tmp_path):
    folder = tmp_path / "notebook"
    folder.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(folder, 0o755)
    (folder / "data.csv").write_text("1,2,3")
    printed, _ = run_cells(
        folder,
        "import subprocess\nr = subprocess.run(['unshare', '-Ur', 'true'], capture_output=True, text=True)\n"
        "print('unshare', r.returncode)",
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print('syscall', libc.unshare(0x10000000), ctypes.get_errno() != 0)",   # CLONE_NEWUSER, directly
        "import os\nprint(os.getuid() != 0, open('data.csv').read())",
        "try:\n    open('/usr/owned', 'w')\nexcept OSError as error:\n    print('read-only', error.errno)",
    )
    assert printed[0].strip() == "unshare 1", printed
    assert printed[1].strip() == "syscall -1 True", printed
    assert printed[2].strip() == "True 1,2,3", printed
    assert printed[3].startswith("read-only"), printed
