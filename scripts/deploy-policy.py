#!/usr/bin/env python3
"""Checks rendered Kubernetes manifests (`kubectl kustomize DIR`) for what schemas cannot express.

  deploy-policy.py RENDERED.yaml

For the ees workloads (label app.kubernetes.io/name=ees; components ingest, flusher, processor and
the migrate Job):
  - liveness probe on /healthz and readiness probe on /readyz (long-running roles);
  - CPU and memory requests and limits on every container;
  - non-root, read-only root filesystem, no privilege escalation, capabilities drop ALL,
    RuntimeDefault seccomp;
  - terminationGracePeriodSeconds above the role's drain bound (ingest: EES_DRAIN_DELAY_MS +
    EES_DRAIN_TIMEOUT_MS from the ConfigMap; flusher and processor: their 15 s bounded stop), plus
    a margin for the process to exit;
  - topology spread, Prometheus scrape annotations, a PodDisruptionBudget and a NetworkPolicy that
    select the pods, an HPA on CPU for ingest;
  - credentials only from Secrets: no ConfigMap key or literal env value that looks like one.
Prints one line per problem; exit 1 if there is any. Needs PyYAML (the yamllint venv has it).
"""
import re
import sys

import yaml

ROLES = ("ingest", "flusher", "processor")
STOP_BOUND_S = {"flusher": 15, "processor": 15}  # FlusherConfig/ProcessorConfig.stopTimeoutMs
EXIT_MARGIN_S = 5
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY|ACCESS_KEY|CREDENTIAL)", re.I)
CREDENTIAL_ENV = {"EES_REDIS_URL", "EES_POSTGRES_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
URL_WITH_PASSWORD = re.compile(r"://[^/@\s]*:[^/@\s]+@")

problems = []


def problem(where, what):
    problems.append(f"{where}: {what}")


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).get("matchLabels", {}).items())


def check_container(where, c, long_running):
    res = c.get("resources", {})
    for kind in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in res.get(kind, {}):
                problem(where, f"no {r} {kind[:-1]}")
    sc = c.get("securityContext", {})
    if sc.get("allowPrivilegeEscalation") is not False:
        problem(where, "allowPrivilegeEscalation is not false")
    if sc.get("readOnlyRootFilesystem") is not True:
        problem(where, "readOnlyRootFilesystem is not true")
    if "ALL" not in sc.get("capabilities", {}).get("drop", []):
        problem(where, "capabilities do not drop ALL")
    if long_running:
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            got = c.get(probe, {}).get("httpGet", {}).get("path")
            if got != path:
                problem(where, f"{probe} is not an HTTP GET of {path} (got {got})")
    for e in c.get("env", []):
        name, value = e.get("name", ""), e.get("value")
        if value is not None and (name in CREDENTIAL_ENV or SECRET_NAME.search(name) or URL_WITH_PASSWORD.search(str(value))):
            problem(where, f"env {name} is a literal; credentials come from a Secret")
        if name in CREDENTIAL_ENV and "secretKeyRef" not in e.get("valueFrom", {}):
            problem(where, f"env {name} does not come from a Secret")


def main():
    docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)

    config = {}
    for cm in by_kind.get("ConfigMap", []):
        for k, v in (cm.get("data") or {}).items():
            if SECRET_NAME.search(k) or URL_WITH_PASSWORD.search(str(v)):
                problem(f"ConfigMap {cm['metadata']['name']}", f"key {k} looks like a credential; use the Secret")
        if cm["metadata"]["name"].startswith("ees-config"):
            config.update(cm.get("data") or {})

    deployments = {}
    for d in by_kind.get("Deployment", []):
        labels = d["spec"]["template"]["metadata"].get("labels", {})
        if labels.get("app.kubernetes.io/name") == "ees":
            deployments[labels.get("app.kubernetes.io/component")] = d
    for role in ROLES:
        if role not in deployments:
            problem("ees", f"no Deployment for the {role} role")
            continue
        d = deployments[role]
        where = f"Deployment {d['metadata']['name']}"
        pod = d["spec"]["template"]["spec"]
        labels = d["spec"]["template"]["metadata"]["labels"]
        annotations = d["spec"]["template"]["metadata"].get("annotations", {})
        psc = pod.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            problem(where, "pod securityContext.runAsNonRoot is not true")
        if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problem(where, "pod seccompProfile is not RuntimeDefault")
        if pod.get("automountServiceAccountToken") is not False:
            problem(where, "a service account token is mounted")
        if not pod.get("topologySpreadConstraints"):
            problem(where, "no topologySpreadConstraints")
        if annotations.get("prometheus.io/scrape") != "true" or annotations.get("prometheus.io/path") != "/metrics":
            problem(where, "no Prometheus scrape annotations")
        if role == "ingest":
            bound_s = (int(config.get("EES_DRAIN_DELAY_MS", 0)) + int(config.get("EES_DRAIN_TIMEOUT_MS", 10000))) / 1000
        else:
            bound_s = STOP_BOUND_S[role]
        grace = pod.get("terminationGracePeriodSeconds", 30)
        if grace < bound_s + EXIT_MARGIN_S:
            problem(where, f"terminationGracePeriodSeconds {grace} is not above the drain bound {bound_s:g} s + {EXIT_MARGIN_S} s")
        for c in pod["containers"]:
            check_container(f"{where} container {c['name']}", c, long_running=True)
        if not any(labels_match(p["spec"].get("selector"), labels) for p in by_kind.get("PodDisruptionBudget", [])):
            problem(where, "no PodDisruptionBudget selects its pods")
        if not any(labels_match(n["spec"].get("podSelector"), labels) for n in by_kind.get("NetworkPolicy", [])):
            problem(where, "no NetworkPolicy selects its pods")

    hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", [])
            if "ingest" in deployments and h["spec"]["scaleTargetRef"]["name"] == deployments["ingest"]["metadata"]["name"]]
    if not hpas:
        problem("ees", "no HorizontalPodAutoscaler for the ingest Deployment")
    elif not any(m.get("resource", {}).get("name") == "cpu" for h in hpas for m in h["spec"].get("metrics", [])):
        problem("ees", "the ingest HPA does not scale on CPU")
    if "ingest" in deployments and "replicas" in deployments["ingest"]["spec"]:
        problem("Deployment ees-ingest", "sets replicas, which fights the HPA on every apply")

    jobs = [j for j in by_kind.get("Job", []) if j["spec"]["template"]["spec"]["containers"][0].get("args") == ["migrate"]]
    if not jobs:
        problem("ees", "no Job runs `ees migrate`")
    for j in jobs:
        for c in j["spec"]["template"]["spec"]["containers"]:
            check_container(f"Job {j['metadata']['name']} container {c['name']}", c, long_running=False)

    for p in problems:
        print(p)
    roles = ", ".join(sorted(deployments))
    if not problems:
        print(f"deploy-policy: ok ({len(docs)} objects; roles {roles})")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
