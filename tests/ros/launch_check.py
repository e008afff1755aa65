"""Static reader of ROS 2 Python launch files (the `launch` package cannot be installed here).

Parses each file with `ast` (nothing is executed), checks it defines generate_launch_description,
and prints JSON: the Node actions with package, executable, name, arguments, parameter files
(FindPackageShare paths as "share:<pkg>/<path>") and inline parameter dicts.
usage: launch_check.py FILE...
"""
import ast
import json
import sys


def const(node, env):
    """Evaluates the small subset of expressions launch files use for names and paths."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    if isinstance(node, ast.List):
        return [const(e, env) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {const(k, env): const(v, env) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call):
        fn = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "?")
        args = [const(a, env) for a in node.args]
        if fn == "FindPackageShare":
            return f"share:{args[0]}"
        if fn == "PathJoinSubstitution":
            return "/".join(str(p) for p in args[0])
        if fn == "LaunchConfiguration":
            return env.get(("arg", args[0]), f"<unset launch argument {args[0]}>")
    raise ValueError(f"unsupported expression at line {getattr(node, 'lineno', '?')}: {ast.dump(node)[:120]}")


def read(path):
    tree = ast.parse(open(path).read(), path)
    fns = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"]
    if not fns:
        raise ValueError("no generate_launch_description()")
    env, nodes = {}, []
    # launch argument defaults first, then variables, then actions (order-independent enough here)
    for n in ast.walk(fns[0]):
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "DeclareLaunchArgument":
            kw = {k.arg: k.value for k in n.keywords}
            env[("arg", const(n.args[0], env))] = const(kw["default_value"], env) if "default_value" in kw else None
    for n in ast.walk(fns[0]):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            env[n.targets[0].id] = const(n.value, env)
    for n in ast.walk(fns[0]):
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Node":
            kw = {k.arg: const(k.value, env) for k in n.keywords}
            params = kw.get("parameters", [])
            nodes.append({
                "package": kw.get("package"),
                "executable": kw.get("executable"),
                "name": kw.get("name"),
                "arguments": kw.get("arguments", []),
                "params_files": [p for p in params if isinstance(p, str)],
                "params": {k: v for p in params if isinstance(p, dict) for k, v in p.items()},
            })
    return nodes


out, ok = {}, True
for f in sys.argv[1:]:
    try:
        out[f] = {"nodes": read(f)}
    except Exception as e:  # reported per file, the test shows it
        out[f] = {"error": str(e)}
        ok = False
print(json.dumps(out, indent=1))
sys.exit(0 if ok else 1)
