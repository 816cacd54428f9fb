#!/usr/bin/env python3
"""session/: no module includes another in a circle, except through the state table.

A module is a header and the .c files that implement it (client.c, client_startup.c, ... are
the module "client"; auth.c and auth_secret.c are "auth"; a private "_int.h" header belongs to
its module). Module A depends on module B when one of A's files includes B's header. The client
module is the state table: every module may include session/client.h (the session object and
the table's entry points, pgr_client_input(), pgr_client_cancel()), so edges into it are not
counted; everything else must form a graph without cycles. Prints the layers (TAP)."""
import re
import sys
from pathlib import Path

SESSION = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[3] /
               "src" / "session")
HUB = "client"
INCLUDE = re.compile(r'#include "session/([a-z_]+)\.h"')


def module_of(stem):
    """client_startup -> client, auth_secret -> auth, pgrvar -> pgrvar (when no header of the
    longer name exists)."""
    headers = {p.stem for p in SESSION.glob("*.h")}
    name = stem[:-4] if stem.endswith("_int") else stem
    while name not in headers and "_" in name:
        name = name.rsplit("_", 1)[0]
    return name


def graph():
    deps = {}
    for f in sorted(SESSION.glob("*.[ch]")):
        mod = module_of(f.stem)
        for inc in INCLUDE.findall(f.read_text()):
            dep = module_of(inc)
            if dep != mod and dep != HUB:
                deps.setdefault(mod, set()).add(dep)
        deps.setdefault(mod, set())
    return deps


def circles(deps):
    """The groups of modules that reach each other (strongly connected, more than one)."""
    def reach(m, edges):
        seen, todo = set(), [m]
        while todo:
            for d in edges.get(todo.pop(), ()):
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return seen
    groups = []
    for m in sorted(deps):
        group = sorted(x for x in reach(m, deps) if m in reach(x, deps))
        if len(group) > 1 and group not in groups:
            groups.append(group)
    return groups


def main():
    deps = graph()
    # Layers, lowest first: a module whose dependencies are all placed already.
    placed, layers = set(), []
    while len(placed) < len(deps):
        layer = sorted(m for m in deps if m not in placed and deps[m] <= placed)
        if not layer:
            break
        layers.append(layer)
        placed |= set(layer)
    left = sorted(set(deps) - placed)
    print("1..1")
    for i, layer in enumerate(layers):
        print(f"# layer {i}: {' '.join(layer)}")
    if left:
        for circle in circles(deps):
            print(f"# in a circle: {' '.join(circle)}")
        print("not ok 1 - session/ modules include each other in a circle")
        return 1
    print("ok 1 - session/ modules form layers (edges into client, the state table, aside)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
