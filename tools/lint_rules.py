#!/usr/bin/env python3
"""tools/lint_rules.py FILE... - source rules of STYLE.md section 10 that no compiler checks.

- every .c/.h starts with a '/*' design comment;
- library code (src/, sandbox/ except main.c) never calls abort exit assert printf fprintf puts
  perror malloc calloc realloc free strdup (use the hs_/HS_ forms);
- no code calls gets strcpy strcat sprintf vsprintf strtok atoi atol system;
- every mutable global or function-local static in library code carries a '/* GLOBAL: why */'
  marker on its line or the line above.
A one-off exception goes on the line: /* lint-allow: RULE reason */.
"""
import re
import sys

LIB_BANNED = "abort exit assert printf fprintf puts perror malloc calloc realloc free strdup".split()
ALL_BANNED = "gets strcpy strcat sprintf vsprintf strtok atoi atol system".split()


def strip(src):
    """Blank out comments and string/char literals, keeping line structure."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(c + " " * (min(j, n) - i - 1) + (c if j < n else ""))
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def is_lib(path):
    return (path.startswith("src/") and not path.startswith("src/cli/")) or (
        path.startswith("sandbox/") and not path.endswith("/main.c"))


def main(paths):
    bad = 0

    def report(path, lineno, msg):
        nonlocal bad
        bad += 1
        print(f"{path}:{lineno}: {msg}")

    for path in paths:
        try:
            src = open(path, encoding="utf-8").read()
        except (OSError, UnicodeDecodeError) as e:
            report(path, 1, f"cannot read: {e}")
            continue
        raw = src.split("\n")
        if not src.startswith("/*"):
            report(path, 1, "file must start with a '/*' design comment (STYLE.md section 5)")
        code = strip(src).split("\n")
        lib = is_lib(path)
        depth = 0
        for i, line in enumerate(code):
            allow = "lint-allow" in raw[i]
            banned = ALL_BANNED + (LIB_BANNED if lib else [])
            if not allow:
                for name in banned:
                    if re.search(r"(?<![\w.>])" + name + r"\s*\(", line):
                        report(path, i + 1, f"banned call '{name}' (STYLE.md section 10)")
            stripped = line.strip()
            if lib and path.endswith(".c") and not allow:
                marker = "GLOBAL:" in raw[i] or (i > 0 and "GLOBAL:" in raw[i - 1])
                is_static_var = (re.match(r"(static\s+)?(_Thread_local\s+)?(volatile\s+)?"
                                          r"[A-Za-z_][\w\s\*]*[\s\*]\w+\s*(\[[^\]]*\])*\s*(=|;)",
                                          stripped)
                                 and "const" not in stripped.split("=")[0]
                                 and not re.match(r"(__extension__\s+)?((typedef|extern|return|enum|goto|case)\b|struct\s+\w+\s*;)", stripped)
                                 and "(" not in stripped.split("=")[0])
                if depth == 0 and is_static_var and not marker:
                    report(path, i + 1, "mutable global without a '/* GLOBAL: why */' marker")
                elif depth > 0 and stripped.startswith("static ") and "const" not in stripped \
                        and "(" not in stripped.split("=")[0] and not marker:
                    report(path, i + 1, "function-local static without a '/* GLOBAL: why */' marker")
            depth += line.count("{") - line.count("}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
