#!/usr/bin/env python3
"""Writes crates/deploy-check/nifi-2x-releases.toml: for each NiFi 2.x release tag and each
component snowstream's flows use, the property names its source defines, the renames its
migrateProperties applies when a flow is imported, and the AllowableValue literals.

Reads a local clone of apache/nifi (with its rel/nifi-2.* tags), so it is run by hand when a
NiFi release is added, never by CI; the TOML it writes is committed and read by deploy-check.

    scripts/nifi-release-properties.py /path/to/nifi > crates/deploy-check/nifi-2x-releases.toml

The names are read from the component's class, its superclasses and the NiFi classes it
imports that build PropertyDescriptors, so a helper's descriptors that the component does not
list (PutS3Object's client-side encryption service, for one) are included too: the lists can
only err on the side of accepting a name, never of refusing one NiFi takes. At rel/nifi-2.11.0
they hold every name of the hand-checked lists before them.
"""
import re
import subprocess
import sys

TAGS = ["2.0.0", "2.1.0", "2.2.0", "2.3.0", "2.4.0", "2.5.0", "2.6.0",
        "2.7.0", "2.7.1", "2.7.2", "2.8.0", "2.9.0", "2.10.0", "2.11.0"]
COMPONENTS = [
    "org.apache.nifi.processors.standard.ListenHTTP",
    "org.apache.nifi.processors.standard.InvokeHTTP",
    "org.apache.nifi.processors.standard.RetryFlowFile",
    "org.apache.nifi.processors.standard.PutFile",
    "org.apache.nifi.processors.standard.ListFile",
    "org.apache.nifi.processors.standard.FetchFile",
    "org.apache.nifi.processors.aws.s3.PutS3Object",
    "org.apache.nifi.processors.aws.credentials.provider.service.AWSCredentialsProviderControllerService",
]
# Source trees whose classes may define a component's properties (its own bundle, the shared
# AWS modules, the proxy and listing helpers).
ROOTS = ("nifi-extension-bundles/nifi-aws-bundle/", "nifi-extension-bundles/nifi-standard-bundle/",
         "nifi-extension-bundles/nifi-extension-utils/", "nifi-extension-bundles/nifi-standard-services/",
         "nifi-commons/", "nifi-api/")


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True,
                          text=True).stdout


def index(repo, tag):
    """Fully qualified class name -> path, for main sources under ROOTS."""
    out = {}
    for path in git(repo, "ls-tree", "-r", "--name-only", tag).splitlines():
        if not path.endswith(".java") or "/src/main/java/" not in path:
            continue
        if not path.startswith(ROOTS):
            continue
        fqcn = path.split("/src/main/java/", 1)[1][:-5].replace("/", ".")
        out[fqcn] = path
    return out


def sources(repo, tag, classes, fqcn):
    """The component's class, its superclasses and the classes it imports that hold property
    descriptors, transitively."""
    seen, todo, texts = set(), [(fqcn, True)], []
    while todo:
        name, superclass = todo.pop()
        if name in seen or name not in classes:
            continue
        seen.add(name)
        text = git(repo, "show", f"{tag}:{classes[name]}")
        if not superclass and "PropertyDescriptor" not in text:
            continue
        texts.append(text)
        package = name.rsplit(".", 1)[0]
        for imp in re.findall(r"^import\s+(?:static\s+)?(org\.apache\.nifi\.[\w.]+)(?:\.\*)?;", text, re.M):
            # `import static a.b.C.MEMBER;` names class a.b.C
            parts = imp.split(".")
            while len(parts) > 1 and ".".join(parts) not in classes:
                parts = parts[:-1]
            todo.append((".".join(parts), False))
        for sup in re.findall(r"\bclass\s+\w+(?:<[^{]*?>)?\s+extends\s+(\w+)", text):
            imported = [i for i in re.findall(r"^import\s+([\w.]+);", text, re.M) if i.endswith("." + sup)]
            todo.append((imported[0] if imported else f"{package}.{sup}", True))
    return texts


def constants(texts):
    """String constants (`static final String X = "..."`) declared in the sources."""
    out = {}
    for t in texts:
        for k, v in re.findall(r'static\s+final\s+String\s+(\w+)\s*=\s*"([^"]*)"', t):
            out[k] = v
    return out


def extract(texts):
    consts = constants(texts)
    props, renames, literals = set(), {}, set()
    for t in texts:
        for statement in t.split(";"):
            if "Relationship.Builder" in statement:
                continue  # relationship names are not properties
            for n in re.findall(r'\.name\(\s*"([^"]+)"\s*\)', statement):
                props.add(n)
            for n in re.findall(r'\.name\(\s*([A-Z_]+)\s*\)', statement):
                if n in consts:
                    props.add(consts[n])
        for lit in re.findall(r'new\s+AllowableValue\(\s*"([^"]+)"', t):
            literals.add(lit)
        for old, new in re.findall(r'renameProperty\(\s*("(?:[^"\\]|\\.)*"|[\w.]+)\s*,\s*([\w.]+)\.getName\(\)\s*\)', t):
            if old.startswith('"'):
                old = old[1:-1].replace('\\"', '"')
            else:
                old = consts.get(old.split(".")[-1], old)
            renames[old] = new.split(".")[-1]
    # Renames name a descriptor constant; resolve it to that descriptor's name (its own
    # `.name(...)`, or that of the descriptor it was built `fromPropertyDescriptor`).
    names = {}
    for t in texts:
        for statement in t.split(";"):
            m = re.search(r"\b([A-Z][A-Z0-9_]*)\s*=\s*new\s+(?:PropertyDescriptor\.)?Builder\(\)", statement)
            if not m:
                continue
            own = re.search(r'\.name\(\s*"([^"]+)"\s*\)', statement)
            base = re.search(r"fromPropertyDescriptor\(\s*([\w.]+)\s*\)", statement)
            names[m.group(1)] = ("name", own.group(1)) if own else ("from", base.group(1).split(".")[-1]) if base else None
    def name_of(const, depth=0):
        entry = names.get(const)
        if entry is None or depth > 5:
            return None
        return entry[1] if entry[0] == "name" else name_of(entry[1], depth + 1)
    resolved = {old: name_of(const) for old, const in renames.items() if name_of(const)}
    return sorted(props), resolved, sorted(literals)


def toml_list(items):
    return "[" + ", ".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "]"


def main():
    repo = sys.argv[1]
    rows = {c: [] for c in COMPONENTS}
    for version in TAGS:
        tag = f"rel/nifi-{version}"
        classes = index(repo, tag)
        for c in COMPONENTS:
            data = extract(sources(repo, tag, classes, c))
            if rows[c] and rows[c][-1][2:] == list(data):
                rows[c][-1][1] = version
            else:
                rows[c].append([version, version, *data])
    print("# Generated by scripts/nifi-release-properties.py from apache/nifi at the tags rel/nifi-<from>")
    print("# ... rel/nifi-<to>: per component, the property names its source defines, the renames its")
    print("# migrateProperties applies when a flow is imported, and its AllowableValue literals.")
    print("# Do not edit by hand: re-run the script when a NiFi release is added.")
    print(f'releases = {toml_list(TAGS)}')
    for c in COMPONENTS:
        for first, last, props, renames, literals in rows[c]:
            print()
            print("[[range]]")
            print(f'type = "{c}"')
            print(f'from = "{first}"')
            print(f'to = "{last}"')
            print(f"properties = {toml_list(props)}")
            print(f"literals = {toml_list(literals)}")
            print("[range.renames]")
            for old, new in sorted(renames.items()):
                print(f'{toml_list([old])[1:-1]} = {toml_list([new])[1:-1]}')


if __name__ == "__main__":
    main()
