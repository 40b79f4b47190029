#!/usr/bin/env python3
"""Validates custom resources offline, strictly, for scripts/validate-k8s.sh.

Each YAML document whose kind is backed by a CRD is checked:
  - cachefleet.dev kinds against the openAPIV3Schema of our CRD (from --crds DIR), made
    strict the way the API server's pruning is: an object schema with `properties` and no
    `additionalProperties` refuses unknown fields (the API server would silently drop
    them, which hides typos such as `replicaPerShard`);
  - monitoring.coreos.com/v1 ServiceMonitor against the subset of the Prometheus
    Operator's schema that the chart and the operator use (see SERVICE_MONITOR_SCHEMA).
Other kinds are left to kubernetes-validate. CEL rules (x-kubernetes-validations) are
not evaluated here; operator/tests/cel.rs covers them.

Usage: validate_custom_resources.py --crds DIR FILE...   ('-' reads stdin)
Prints one line per checked document; exits 1 if any is invalid or a CRD-backed kind
has no schema.
"""

import argparse
import copy
import sys
from pathlib import Path

import jsonschema
import yaml

GROUP = "cachefleet.dev"

# Fields of ObjectMeta a user may write in a manifest; the rest are set by the API server.
OBJECT_META = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 253},
        "namespace": {"type": "string", "minLength": 1, "maxLength": 63},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
    },
}

LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}

DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}

# The part of monitoring.coreos.com/v1 ServiceMonitor we emit, with its upstream field
# names, types and required fields. kubernetes-validate has no schema for this CRD, and no
# registry package ships it as JSON Schema; a field outside this subset fails here on
# purpose, so whoever starts using it adds it (checked against the upstream CRD) here.
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            **OBJECT_META,
            "properties": {**OBJECT_META["properties"], "ownerReferences": {"type": "array", "items": {"type": "object"}}},
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector"],
            "properties": {
                "jobLabel": {"type": "string"},
                "targetLabels": {"type": "array", "items": {"type": "string"}},
                "podTargetLabels": {"type": "array", "items": {"type": "string"}},
                "selector": LABEL_SELECTOR,
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "endpoints": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string", "minLength": 1},
                            "targetPort": {"type": ["string", "integer"]},
                            "path": {"type": "string"},
                            "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                            "interval": DURATION,
                            "scrapeTimeout": DURATION,
                            "honorLabels": {"type": "boolean"},
                            "honorTimestamps": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    },
}


class SchemaError(Exception):
    pass


def strict_schema(node):
    """openAPIV3 (Kubernetes structural schema) -> strict JSON Schema."""
    if isinstance(node, list):
        return [strict_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key == "nullable":
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {name: strict_schema(sub) for name, sub in value.items()}
        else:
            out[key] = strict_schema(value)
    if node.get("x-kubernetes-int-or-string"):
        either = [{"type": "integer"}, {"type": "string"}]
        out.setdefault("anyOf", either + [{"type": "null"}] if node.get("nullable") else either)
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in node and "additionalProperties" not in node and not preserve:
        out["additionalProperties"] = False
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
    return out


def load_crd_schemas(crd_dir):
    """(apiVersion, kind) -> strict schema of the whole object, for every CRD in crd_dir."""
    schemas = {}
    files = sorted(Path(crd_dir).glob("*.yaml"))
    if not files:
        raise SchemaError(f"no CRD files in {crd_dir}")
    for path in files:
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd:
                continue
            if crd.get("kind") != "CustomResourceDefinition":
                raise SchemaError(f"{path}: not a CustomResourceDefinition")
            group = crd["spec"]["group"]
            kind = crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                # The API server adds these to every object; the CRD schema leaves them out.
                schema.setdefault("properties", {})
                schema["properties"]["apiVersion"] = {"const": f"{group}/{version['name']}"}
                schema["properties"]["kind"] = {"const": kind}
                schema["properties"]["metadata"] = OBJECT_META
                schema.setdefault("required", [])
                schema["required"] = sorted({*schema["required"], "apiVersion", "kind", "metadata"})
                strict = strict_schema(schema)
                jsonschema.Draft7Validator.check_schema(strict)
                schemas[(f"{group}/{version['name']}", kind)] = strict
    return schemas


def documents(name):
    text = sys.stdin.read() if name == "-" else Path(name).read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def where(error):
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "(top level)"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crds", required=True, help="directory of the CRD YAML files")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    try:
        schemas = load_crd_schemas(args.crds)
    except (SchemaError, KeyError, OSError, yaml.YAMLError, jsonschema.SchemaError) as e:
        print(f"FAIL cannot read CRDs from {args.crds}: {e}")
        return 1
    schemas[("monitoring.coreos.com/v1", "ServiceMonitor")] = SERVICE_MONITOR_SCHEMA

    failed = 0
    for name in args.files:
        label = "stdin" if name == "-" else name
        try:
            docs = documents(name)
        except (OSError, yaml.YAMLError) as e:
            print(f"FAIL {label}: cannot read YAML: {e}")
            failed += 1
            continue
        for doc in docs:
            if not isinstance(doc, dict):
                print(f"FAIL {label}: a document is not a mapping")
                failed += 1
                continue
            api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
            schema = schemas.get((api_version, kind))
            crd_backed = api_version.startswith(f"{GROUP}/") or api_version.startswith("monitoring.coreos.com/")
            if schema is None:
                if crd_backed:
                    print(f"FAIL {label}: no schema for {kind} {api_version}")
                    failed += 1
                continue
            obj_name = (doc.get("metadata") or {}).get("name", "?")
            errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.absolute_path))
            if errors:
                failed += 1
                for error in errors:
                    print(f"FAIL {label}: {kind}/{obj_name}: {where(error)}: {error.message}")
            else:
                print(f"ok   {label}: {kind}/{obj_name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
