//! The Debian package (README, "The Debian package") and the systemd unit's
//! exposure score. The package is built once per run by
//! `packaging/build-deb.sh --profile dev`: the binary the test build has
//! already made, rather than a second, optimized build of everything.
//!
//! Needs cargo-deb, lintian, dpkg and systemd-analyze (scripts/toolchains.sh
//! installs them); a missing one fails the test. The install test needs root
//! (or password-less sudo): it installs the package on this machine with
//! `dpkg -i`, runs the installed `eventward --version` and `config check`
//! (with and without `--connect`) on the installed configuration, and purges
//! it again; it refuses to run where an eventward package or
//! /usr/bin/eventward is already present.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const UNIT: &str = "lib/systemd/system/eventward.service";
const CONFFILE: &str = "etc/eventward/eventward.toml";
/// Every file the package holds besides the man pages.
const FILES: &[(&str, u32)] = &[
    ("usr/bin/eventward", 0o755),
    (UNIT, 0o644),
    (CONFFILE, 0o644),
    ("usr/share/man/man1/eventward.1.gz", 0o644),
    ("usr/share/bash-completion/completions/eventward", 0o644),
    ("usr/share/zsh/vendor-completions/_eventward", 0o644),
    ("usr/share/fish/vendor_completions.d/eventward.fish", 0o644),
    ("usr/share/doc/eventward/copyright", 0o644),
    ("usr/share/doc/eventward/changelog.Debian.gz", 0o644),
    ("usr/share/doc/eventward/README.md", 0o644),
];

/// Runs a program; a program that is not there fails the test, naming it.
fn run(cmd: &mut Command) -> Output {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {program} ({e}): is it installed? scripts/toolchains.sh installs it")
    })
}

fn ok(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn tempdir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "eventward-package-{what}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The .deb, built once for all the tests here.
fn package() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        let started = Instant::now();
        let stdout = ok(Command::new(Path::new(ROOT).join("packaging/build-deb.sh"))
            .args(["--profile", "dev", "--fast"])
            .current_dir(ROOT));
        let deb = PathBuf::from(
            stdout
                .lines()
                .last()
                .expect("build-deb.sh printed no path")
                .trim(),
        );
        assert!(deb.is_file(), "no package at {}", deb.display());
        eprintln!(
            "built {} in {:.1} s",
            deb.display(),
            started.elapsed().as_secs_f64()
        );
        deb
    })
}

/// The package's files, unpacked into a fresh directory.
fn unpacked(deb: &Path) -> PathBuf {
    let dir = tempdir("unpacked");
    ok(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&dir));
    dir
}

#[test]
fn the_package_holds_the_binary_unit_conffile_man_pages_and_completions() {
    use std::os::unix::fs::PermissionsExt;
    let deb = package();

    let listing = ok(Command::new("dpkg-deb").arg("-c").arg(deb));
    let listed: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|p| p.trim_start_matches("./"))
        .collect();
    for (file, _) in FILES {
        assert!(
            listed.contains(file),
            "{file} is not in the package:\n{listing}"
        );
    }
    assert!(
        listed.contains(&"usr/share/man/man1/eventward-key-create.1.gz"),
        "a man page per subcommand:\n{listing}"
    );
    assert!(
        !listed.iter().any(|p| p.contains("usr/local")),
        "nothing under /usr/local:\n{listing}"
    );

    let root = unpacked(deb);
    for (file, mode) in FILES {
        let meta = std::fs::metadata(root.join(file)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, *mode, "mode of {file}");
    }

    // The example configuration is a conffile.
    let control = tempdir("control");
    ok(Command::new("dpkg-deb").arg("-e").arg(deb).arg(&control));
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    assert_eq!(conffiles.trim(), format!("/{CONFFILE}"));
    assert_eq!(
        std::fs::read_to_string(root.join(CONFFILE)).unwrap(),
        std::fs::read_to_string(Path::new(ROOT).join("systemd/eventward.toml")).unwrap()
    );

    // The packaged unit is the manual one, run from /usr/bin.
    let unit = std::fs::read_to_string(root.join(UNIT)).unwrap();
    let manual =
        std::fs::read_to_string(Path::new(ROOT).join("systemd/eventward.service")).unwrap();
    assert!(unit.contains(
        "\nExecStartPre=/usr/bin/eventward --config /etc/eventward/eventward.toml migrate\n"
    ));
    assert!(unit
        .contains("\nExecStart=/usr/bin/eventward --config /etc/eventward/eventward.toml serve\n"));
    assert!(!unit.contains("/usr/local"), "{unit}");
    let settings = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.replace("/usr/local/bin/", "/usr/bin/"))
            .collect()
    };
    assert_eq!(
        settings(&unit),
        settings(&manual),
        "the units differ beyond their paths"
    );

    // The man page and the completions describe the CLI.
    let man = ok(Command::new("zcat").arg(root.join("usr/share/man/man1/eventward.1.gz")));
    assert!(man.contains(".TH eventward 1"), "{man}");
    assert!(
        man.contains("eventward\\-key(1)"),
        "the page lists the subcommands' pages:\n{man}"
    );
    let bash =
        std::fs::read_to_string(root.join("usr/share/bash-completion/completions/eventward"))
            .unwrap();
    assert!(bash.contains("complete -F _eventward"), "{bash}");
    let fish =
        std::fs::read_to_string(root.join("usr/share/fish/vendor_completions.d/eventward.fish"))
            .unwrap();
    assert!(fish.contains("complete -c eventward"), "{fish}");
    let zsh =
        std::fs::read_to_string(root.join("usr/share/zsh/vendor-completions/_eventward")).unwrap();
    assert!(zsh.starts_with("#compdef eventward"), "{zsh}");

    // The packaged binary runs.
    let version = ok(Command::new(root.join("usr/bin/eventward")).arg("--version"));
    assert_eq!(
        version.trim(),
        format!("eventward {}", env!("CARGO_PKG_VERSION"))
    );

    std::fs::remove_dir_all(root).unwrap();
    std::fs::remove_dir_all(control).unwrap();
}

/// lintian reports no error and no warning. (At the info level it notes
/// hardening-no-fortify-functions, which Rust code does not use,
/// no-md5sums-control-file, which cargo-deb does not write, and a unit
/// without an init.d script.)
#[test]
fn lintian_finds_no_error_or_warning() {
    let deb = package();
    let out = run(Command::new("lintian").arg("--allow-root").arg(deb));
    let report = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("lintian:\n{report}{stderr}");
    let tags: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("E: ") || l.starts_with("W: "))
        .collect();
    assert!(tags.is_empty(), "lintian: {tags:#?}");
    assert!(
        out.status.success(),
        "lintian failed ({}):\n{report}\n{stderr}",
        out.status
    );
}

/// The exposure `systemd-analyze security --offline=true` gives a unit file.
fn exposure(unit: &Path) -> f64 {
    let out = ok(Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit));
    let line = out
        .lines()
        .find(|l| l.contains("Overall exposure level for eventward.service:"))
        .unwrap_or_else(|| panic!("no overall exposure in:\n{out}"));
    let score = line
        .rsplit(':')
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no score in {line:?}"));
    eprintln!("{}: {score}", unit.display());
    score
}

#[test]
fn the_shipped_units_expose_at_most_1_5() {
    let manual = Path::new(ROOT).join("systemd/eventward.service");
    let root = unpacked(package());
    let packaged = root.join(UNIT);
    for unit in [&manual, &packaged] {
        let score = exposure(unit);
        assert!(score <= 1.5, "{}: exposure {score} > 1.5", unit.display());
    }
    std::fs::remove_dir_all(root).unwrap();
}

/// Runs a command as root: directly, or through `sudo -n`.
fn as_root(args: &[&str]) -> Command {
    let uid = ok(Command::new("id").arg("-u"));
    let mut cmd = if uid.trim() == "0" {
        Command::new(args[0])
    } else {
        let mut sudo = Command::new("sudo");
        sudo.args(["-n", args[0]]);
        sudo
    };
    cmd.args(&args[1..]);
    cmd
}

/// dpkg, waiting (up to 5 minutes) while another dpkg or apt holds its lock.
fn dpkg(args: &[&str]) -> Output {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let mut full = vec!["dpkg"];
        full.extend_from_slice(args);
        let out = run(&mut as_root(&full));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !stderr.contains("lock") || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

fn installed() -> bool {
    let out = run(Command::new("dpkg-query").args(["-W", "-f=${Status}", "eventward"]));
    out.status.success()
        && String::from_utf8_lossy(&out.stdout).contains("installed")
        && !String::from_utf8_lossy(&out.stdout).contains("not-installed")
}

/// Purges the package when a test fails half-way.
struct Purge;
impl Drop for Purge {
    fn drop(&mut self) {
        let _ = dpkg(&["--purge", "eventward"]);
    }
}

/// Processes running /usr/bin/eventward (the daemons of the other tests run
/// target/debug/eventward).
fn installed_binary_processes() -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(exe) = std::fs::read_link(entry.path().join("exe")) {
            if exe == Path::new("/usr/bin/eventward") {
                found.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    found
}

#[test]
fn the_package_installs_runs_and_purges_cleanly() {
    let deb = package();
    assert!(
        !installed() && !Path::new("/usr/bin/eventward").exists(),
        "eventward is already installed here; this test installs and purges its own package: \
         remove it first (dpkg --purge eventward)"
    );
    let deb = deb.to_str().unwrap();

    let guard = Purge;
    let out = dpkg(&["-i", deb]);
    assert!(
        out.status.success(),
        "dpkg -i {deb}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(installed());

    let conffiles = ok(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", "eventward"]));
    assert!(
        conffiles.contains("/etc/eventward/eventward.toml "),
        "{conffiles:?}"
    );
    assert!(Path::new("/lib/systemd/system/eventward.service").is_file());

    let version = ok(Command::new("/usr/bin/eventward").arg("--version"));
    assert_eq!(
        version.trim(),
        format!("eventward {}", env!("CARGO_PKG_VERSION"))
    );
    let help = ok(Command::new("/usr/bin/eventward").args([
        "--config",
        "/etc/eventward/eventward.toml",
        "--help",
    ]));
    assert!(help.contains("Usage: eventward"), "{help}");
    // The installed example configuration is one the binary reads: a command
    // that loads it gets as far as the database (none listens on port 1).
    let out = run(Command::new("/usr/bin/eventward")
        .args([
            "--config",
            "/etc/eventward/eventward.toml",
            "workspace",
            "list",
        ])
        .env(
            "EVENTWARD_DATABASE__URL",
            "postgres://nobody@127.0.0.1:1/nothing",
        )
        .env_remove("CREDENTIALS_DIRECTORY"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot connect to the database"),
        "the installed configuration does not load:\n{stderr}"
    );

    // `config check` validates the installed configuration: the report
    // names the file and finds it valid.
    let installed_eventward = || {
        let mut cmd = Command::new("/usr/bin/eventward");
        for (k, _) in std::env::vars() {
            if k.starts_with("EVENTWARD_") {
                cmd.env_remove(k);
            }
        }
        cmd.env_remove("CREDENTIALS_DIRECTORY");
        cmd
    };
    let report = ok(installed_eventward().args([
        "--config",
        "/etc/eventward/eventward.toml",
        "config",
        "check",
    ]));
    assert_eq!(
        report.lines().collect::<Vec<_>>(),
        [
            "configuration read from /etc/eventward/eventward.toml and the EVENTWARD_* environment",
            "ok      configuration: valid",
        ],
        "{report}"
    );
    // With --connect it reaches the services the file names (here the
    // database is overridden to one nobody serves, the broker to the
    // test's) and reports each, in JSON; a failed check fails the command.
    let amqp = std::env::var("EVENTWARD_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let out = run(installed_eventward()
        .args([
            "--json",
            "--config",
            "/etc/eventward/eventward.toml",
            "config",
            "check",
            "--connect",
        ])
        .env(
            "EVENTWARD_DATABASE__URL",
            "postgres://nobody:hunter2@127.0.0.1:1/nothing",
        )
        .env("EVENTWARD_AMQP__URL", &amqp));
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "config check --json printed no JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(report["file"], "/etc/eventward/eventward.toml", "{report}");
    assert_eq!(report["connect"], true, "{report}");
    assert_eq!(report["ok"], false, "{report}");
    let checks = report["checks"].as_array().unwrap();
    let check = |name: &str| {
        checks
            .iter()
            .find(|c| c["check"].as_str().unwrap().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} check in {report}"))
    };
    assert_eq!(check("configuration")["status"], "ok");
    let postgres = check("postgresql");
    assert_eq!(postgres["status"], "failed", "{report}");
    assert!(!report.to_string().contains("hunter2"), "{report}");
    let broker = check("rabbitmq");
    assert!(
        broker["status"] == "ok" || broker["status"] == "warning",
        "the installed binary reaches RabbitMQ: {report}"
    );
    assert_eq!(check("jwks")["status"], "failed", "{report}");

    // Installing starts nothing.
    assert_eq!(installed_binary_processes(), Vec::<String>::new());

    drop(guard);
    assert!(!installed(), "dpkg --purge eventward left it installed");
    for path in [
        "/usr/bin/eventward",
        "/lib/systemd/system/eventward.service",
        "/etc/eventward/eventward.toml",
        "/etc/eventward",
        "/usr/share/man/man1/eventward.1.gz",
        "/var/lib/systemd/deb-systemd-helper-enabled/eventward.service.dsh-also",
        "/var/lib/systemd/deb-systemd-helper-masked/eventward.service",
    ] {
        assert!(!Path::new(path).exists(), "{path} is left after the purge");
    }
}
