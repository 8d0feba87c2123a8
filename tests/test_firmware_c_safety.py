"""Nothing from a file name reaches generated C as code (issue 36, case 3): the banner of every generated
.c/.cc/.h/.ino names the model in a comment that no newline, backslash, trigraph or ``*/`` can end early."""

import shutil
import subprocess
from types import SimpleNamespace

import pytest

from firmware_export.render import banner, comment_text

HOSTILE = ["evil\n#error injected\n.tflite", "evil\r\n#error injected.tflite", "a\\\n#error spliced.tflite",
           "end*/ #error closed /*.tflite", "evil??/\n#error trigraph.tflite", "evil\u2028x.tflite", "\\"]


@pytest.mark.parametrize("name", HOSTILE)
def test_the_banner_stays_three_comment_lines(name):
    text = banner(f"{name}.h", SimpleNamespace(size=10, sha256="ab" * 32), name)
    lines = text.split("\n")
    assert len(lines) == 3 and all(line.startswith("// ") for line in lines), text
    assert all(line.isprintable() and line.isascii() for line in lines), text
    assert "*/" not in text and "??" not in text and "\\\n" not in text + "\n" and "#error" not in text.split("//")[0]
    assert not any(line.endswith("\\") for line in lines)


def test_comment_text_keeps_ordinary_names_readable():
    assert comment_text("fer_micro_int8.tflite") == "fer_micro_int8.tflite"
    assert comment_text("a b\n") == "a b\\x0a"


@pytest.mark.parametrize("name", HOSTILE)
def test_a_c_compiler_sees_only_comments(name, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    source = tmp_path / "banner.c"
    source.write_text(banner(f"{name}.c", SimpleNamespace(size=10, sha256="ab" * 32), name)
                      + "\n/* " + comment_text(name) + " */\nint ok;\n")
    proc = subprocess.run([cc, "-std=c99", "-trigraphs", "-Werror", "-fsyntax-only", str(source)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
