//! `kube play`/`kube down`/`generate kube`: ConfigMap env, PVC volumes,
//! command/args, limits, restartPolicy, hostPort published on the pod,
//! Deployment replicas, and generate → down → play giving the same pod.
//!
//! Network safety: only 127.0.0.1 and a network of this test's own.

mod common;

use common::*;

fn pod_yaml(port: u16) -> String {
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{name: cfg}}
data: {{GREETING: hello, COLOR: blue}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: kdata}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: kp}}
spec:
  restartPolicy: OnFailure
  containers:
  - name: web
    image: {IMAGE}
    command: [sh, -c]
    args: ["echo $GREETING-$COLOR > /data/index.html && exec httpd -f -p 80 -h /data"]
    env:
    - name: GREETING
      valueFrom: {{configMapKeyRef: {{name: cfg, key: GREETING}}}}
    envFrom:
    - configMapRef: {{name: cfg}}
    ports:
    - {{containerPort: 80, hostPort: {port}, hostIP: 127.0.0.1}}
    resources: {{limits: {{memory: 64Mi, cpu: 500m}}}}
    volumeMounts:
    - {{name: d, mountPath: /data}}
    - {{name: scratch, mountPath: /scratch}}
  - name: side
    image: {IMAGE}
    command: [sleep, "300"]
  volumes:
  - name: d
    persistentVolumeClaim: {{claimName: kdata}}
  - name: scratch
    emptyDir: {{}}
"#
    )
}

/// (name, command, image) of every non-infra container, sorted.
fn members(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = env
        .ok(&["ps", "-a", "--format", "{{.Names}}|{{.Image}}"])
        .lines()
        .filter(|l| !l.contains("-infra|"))
        .map(|l| {
            let name = l.split('|').next().unwrap();
            let i = env.inspect(name);
            format!("{l}|{}|{}", i["Config"]["Entrypoint"], i["Config"]["Cmd"])
        })
        .collect();
    v.sort();
    v
}

#[test]
fn play_generate_down_play_round_trip() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    let pid = std::process::id();
    let net = unique("kubenet");
    env.ok(&[
        "network",
        "create",
        "--subnet",
        &format!("10.{}.8.0/24", 200 + pid % 50),
        "--interface-name",
        &format!("bk{}", pid % 100_000),
        &net,
    ]);
    let port = free_port();
    let file = env.path().join("pod.yaml");
    std::fs::write(&file, pod_yaml(port)).unwrap();
    let file = file.to_str().unwrap();
    env.ok(&["kube", "play", "--network", &net, file]);
    // Pod members are named POD-CONTAINER; the PVC is a named volume.
    env.ok(&["volume", "inspect", "kdata"]);
    let web = env.inspect("kp-web");
    assert_eq!(web["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(web["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    let envs = web["Config"]["Env"].to_string();
    assert!(
        envs.contains("GREETING=hello") && envs.contains("COLOR=blue"),
        "{envs}"
    );
    let mut body = None;
    wait_until("the hostPort answers", || {
        body = fetch(port);
        body.is_some()
    });
    assert!(body.unwrap().contains("hello-blue"));
    // The members share the pod's loopback.
    let local = env.ok(&[
        "exec",
        "kp-side",
        "wget",
        "-qO-",
        "http://127.0.0.1/index.html",
    ]);
    assert_eq!(local, "hello-blue");
    let before = members(&env);
    assert_eq!(before.len(), 2, "{before:?}");

    let generated = env.ok(&["generate", "kube", "kp"]);
    assert!(
        generated.contains("kind: Pod") && generated.contains("claimName: kdata"),
        "{generated}"
    );
    let gen_file = env.path().join("gen.yaml");
    std::fs::write(&gen_file, &generated).unwrap();
    let gen_file = gen_file.to_str().unwrap();
    env.ok(&["kube", "down", file]);
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    assert_eq!(env.ok(&["pod", "ps", "-q"]), "");
    env.ok(&["kube", "play", "--network", &net, gen_file]);
    assert_eq!(members(&env), before);
    let mut body = None;
    wait_until("the replayed hostPort answers", || {
        body = fetch(port);
        body.is_some()
    });
    assert!(body.unwrap().contains("hello-blue"));
    env.ok(&["kube", "down", gen_file]);
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    // The emptyDir (anonymous) volumes went with the pod; the PVC stays.
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "kdata");
    env.ok(&["network", "rm", &net]);
}

#[test]
fn deployment_replicas_and_generate_of_a_container() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let yaml = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: dep}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: dep}}}}\n  template:\n    metadata: {{labels: {{app: dep}}}}\n    spec:\n      containers:\n      - name: c\n        image: {IMAGE}\n        command: [sleep, '300']\n"
    );
    let file = env.path().join("dep.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.to_str().unwrap();
    env.ok(&["kube", "play", file]);
    let pods = env.ok(&["pod", "ps", "--format", "{{.Name}} {{.Status}}"]);
    let mut pods: Vec<&str> = pods.lines().collect();
    pods.sort();
    assert_eq!(pods, ["dep-pod Running", "dep-pod-1 Running"]);
    env.ok(&["kube", "down", file]);
    assert_eq!(env.ok(&["pod", "ps", "-q"]), "");

    // A lone container becomes a pod NAME-pod with one container NAME.
    env.ok(&[
        "create", "--name", "lone", "-e", "A=b", IMAGE, "sh", "-c", "echo $A",
    ]);
    let y = env.ok(&["generate", "kube", "lone"]);
    let f = env.path().join("lone.yaml");
    std::fs::write(&f, y).unwrap();
    env.ok(&["rm", "lone"]);
    env.ok(&["kube", "play", "--start=false", f.to_str().unwrap()]);
    let c = env.inspect("lone-pod-lone");
    assert_eq!(
        c["Config"]["Cmd"],
        serde_json::json!(["sh", "-c", "echo $A"])
    );
    assert!(c["Config"]["Env"].to_string().contains("A=b"));
    env.expect(&["kube", "play", "/nonexistent.yaml"], 125);
    env.ok(&["pod", "rm", "-f", "-a"]);
}
