//! The one table of sample toolchains: for each language, the programs it
//! needs (and the Debian package that has each), how its source is checked,
//! and how the sample is built and run as its header says. Every sample test
//! goes through here. A missing program is a test failure that names the
//! package to install (`scripts/toolchains.sh` installs them all): nothing is
//! skipped.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One language's row.
pub struct Toolchain {
    /// The `eventward samples --lang` name.
    pub lang: &'static str,
    /// The file the sample is saved as.
    pub file: &'static str,
    /// The run command as the sample's header prints it (after `ENV_VAR=... `);
    /// None for the browser sample, which an app imports.
    pub printed: Option<&'static str>,
    /// (program, Debian package that provides it)
    pub needs: &'static [(&'static str, &'static str)],
}

pub const TABLE: &[Toolchain] = &[
    Toolchain {
        lang: "curl",
        file: "sample.sh",
        printed: Some("bash sample.sh"),
        needs: &[
            ("bash", "bash"),
            ("curl", "curl"),
            ("shellcheck", "shellcheck"),
        ],
    },
    Toolchain {
        lang: "python",
        file: "sample.py",
        printed: Some("python3 sample.py"),
        needs: &[("python3", "python3 (and python3-requests)")],
    },
    Toolchain {
        lang: "node",
        file: "sample.mjs",
        printed: Some("node sample.mjs"),
        needs: &[("node", "nodejs")],
    },
    Toolchain {
        lang: "go",
        file: "sample.go",
        printed: Some("go run sample.go"),
        needs: &[("go", "golang-go"), ("gofmt", "golang-go")],
    },
    Toolchain {
        lang: "java",
        file: "Sample.java",
        printed: Some("java Sample.java"),
        needs: &[
            ("java", "default-jdk-headless"),
            ("javac", "default-jdk-headless"),
        ],
    },
    Toolchain {
        lang: "ruby",
        file: "sample.rb",
        printed: Some("ruby sample.rb"),
        needs: &[("ruby", "ruby")],
    },
    Toolchain {
        lang: "csharp",
        file: "sample.cs",
        printed: Some("mono sample.exe"),
        needs: &[("mcs", "mono-devel"), ("mono", "mono-devel")],
    },
    Toolchain {
        lang: "php",
        file: "sample.php",
        printed: Some("php sample.php"),
        needs: &[("php", "php-cli (and php-curl)")],
    },
    // Node's fetch is the browser's fetch: a small harness imports the
    // sample's `sendEvent(token, data)` and calls it with $EVENTWARD_TOKEN.
    Toolchain {
        lang: "browser",
        file: "sample.mjs",
        printed: None,
        needs: &[("node", "nodejs")],
    },
];

/// How Mono compiles the C# sample: the command its header prints.
pub const MCS: &[&str] = &[
    "mcs",
    "-r:System.Net.Http.dll",
    "-r:System.Runtime.Serialization.dll",
    "sample.cs",
];

/// The harness that runs the browser sample in Node.
const BROWSER_HARNESS: &str = "import { sendEvent } from \"./sample.mjs\";\n\
    try {\n\
      console.log(await sendEvent(process.env.EVENTWARD_TOKEN, { example: true, sent_by: \"browser sample\" }));\n\
    } catch (err) {\n\
      console.error(`${err.message} [status=${err.status} code=${err.code}]`);\n\
      process.exitCode = 1;\n\
    }\n";

pub fn toolchain(lang: &str) -> &'static Toolchain {
    TABLE
        .iter()
        .find(|t| t.lang == lang)
        .unwrap_or_else(|| panic!("no toolchain for {lang} in the table"))
}

const INSTALL: &str = "scripts/toolchains.sh installs every sample toolchain";

/// `program` on PATH, or a test failure naming the package to install.
pub fn require(program: &str, package: &str) -> PathBuf {
    find_on_path(program).unwrap_or_else(|| {
        panic!("{program} is not installed: apt-get install {package} ({INSTALL})")
    })
}

/// Every program `lang` needs, and what they must be able to do; fails the
/// test with the package to install when something is missing.
pub fn require_all(lang: &str) {
    for (program, package) in toolchain(lang).needs {
        require(program, package);
    }
    let probe = |cmd: &mut Command, missing: &str| {
        assert!(succeeds(cmd), "{lang}: {missing} ({INSTALL})");
    };
    match lang {
        "python" => probe(
            Command::new("python3").args(["-c", "import requests"]),
            "the python3 first on PATH cannot import requests: apt-get install python3-requests \
             for Debian's python3, else python3 -m pip install requests",
        ),
        "php" => probe(
            Command::new("php").args(["-r", "exit(function_exists('curl_init') ? 0 : 1);"]),
            "PHP's curl extension is missing: apt-get install php-curl",
        ),
        "node" | "browser" => probe(
            Command::new("node").args([
                "-e",
                "process.exit(typeof fetch === 'function' && typeof AbortSignal.timeout === 'function' ? 0 : 1)",
            ]),
            "this node has no global fetch: Node.js 18+ needed (apt-get install nodejs)",
        ),
        _ => {}
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Whether `cmd` runs and exits 0 (for probing what a toolchain can do).
fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

// ------------------------------------------------------------------ checking

/// The checks a sample's source must pass before it is run: the language's
/// compiler or linter, with no warning.
pub fn check_source(lang: &str, code: &str) {
    require_all(lang);
    let row = toolchain(lang);
    if let Some(printed) = row.printed {
        assert!(
            code.lines().take(4).any(|l| l.contains(printed)),
            "{lang}: the header does not say `{printed}`:\n{code}"
        );
    }
    let dir = TempDir::new(&format!("check-{lang}"));
    match lang {
        "curl" => {
            dir.write(row.file, code);
            check(&dir, "bash", &["-n", row.file]);
            check(&dir, "shellcheck", &[row.file]);
        }
        "python" => {
            dir.write(row.file, code);
            check(&dir, "python3", &["-m", "py_compile", row.file]);
        }
        "node" => {
            // The same file must work as an ES module and as CommonJS.
            for name in ["sample.mjs", "sample.cjs", "sample.js"] {
                dir.write(name, code);
                check(&dir, "node", &["--check", name]);
            }
        }
        "browser" => {
            dir.write(row.file, code);
            check(&dir, "node", &["--check", row.file]);
        }
        "java" => {
            dir.write(row.file, code);
            check(
                &dir,
                "javac",
                &["-Xlint:all", "-Werror", "-d", "classes", row.file],
            );
            assert!(dir.0.join("classes/Sample.class").is_file());
        }
        "go" => {
            dir.write(row.file, code);
            // -l lists the file when it is not gofmt-formatted; -e reports all errors.
            check(&dir, "gofmt", &["-l", "-e", row.file]);
            check(&dir, "go", &["vet", row.file]);
        }
        "ruby" => {
            dir.write(row.file, code);
            let ran = run(dir.command("ruby", &["-w", "-c", row.file]), MINUTE);
            assert_eq!(ran.code, Some(0), "ruby -wc\n{ran}");
            assert_eq!(ran.stdout.trim(), "Syntax OK", "{ran}");
            assert!(ran.stderr.trim().is_empty(), "ruby warnings\n{ran}");
        }
        "php" => {
            dir.write(row.file, code);
            let ran = run(dir.command("php", &["-l", row.file]), MINUTE);
            assert_eq!(ran.code, Some(0), "php -l\n{ran}");
            assert!(ran.stdout.contains("No syntax errors detected"), "{ran}");
        }
        "csharp" => {
            let mcs = MCS.join(" ");
            assert!(
                code.lines().take(4).any(|l| l.contains(&mcs)),
                "csharp: the header does not say `{mcs}`:\n{code}"
            );
            dir.write(row.file, code);
            // Every warning is an error, at the highest warning level.
            let mut args = vec!["-warnaserror+", "-warn:4"];
            args.extend_from_slice(&MCS[1..]);
            check(&dir, "mcs", &args);
            assert!(dir.0.join("sample.exe").is_file());
        }
        other => panic!("no source check for {other}"),
    }
}

/// Runs a checker in `dir` and fails the test, with its output, unless it
/// exits 0 and prints nothing.
fn check(dir: &TempDir, program: &str, args: &[&str]) {
    let ran = run(dir.command(program, args), Duration::from_secs(300));
    let what = format!("{program} {}", args.join(" "));
    assert_eq!(ran.code, Some(0), "{what}: check failed\n{ran}");
    assert!(
        ran.stdout.trim().is_empty() && ran.stderr.trim().is_empty(),
        "{what}: check printed something\n{ran}"
    );
}

// ------------------------------------------------------------------ building, running

/// How a sample is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// As the sample's header says (`go run sample.go`, `java Sample.java`, …).
    AsPrinted,
    /// With its exit code intact: Go as a built binary (`go run` turns every
    /// non-zero exit into 1); the same as printed for the other languages.
    ExactExit,
}

/// A sample saved, built when its language compiles, ready to start.
pub struct Sample {
    pub dir: TempDir,
    program: String,
    args: Vec<String>,
}

impl Sample {
    /// Saves `code` as the table's file for `lang` and builds it.
    pub fn new(lang: &str, code: &str, launch: Launch) -> Sample {
        Sample::saved_as(lang, code, toolchain(lang).file, launch)
    }

    /// The same, saved under another file name (`sample.cjs` for node).
    pub fn saved_as(lang: &str, code: &str, file: &str, launch: Launch) -> Sample {
        require_all(lang);
        let dir = TempDir::new(lang);
        dir.write(file, code);
        let (program, args): (&str, Vec<&str>) = match (lang, launch) {
            ("curl", _) => ("bash", vec![file]),
            ("python", _) => ("python3", vec![file]),
            ("node", _) => ("node", vec![file]),
            ("java", _) => ("java", vec![file]),
            ("ruby", _) => ("ruby", vec![file]),
            ("php", _) => ("php", vec![file]),
            ("go", Launch::AsPrinted) => ("go", vec!["run", file]),
            ("go", Launch::ExactExit) => {
                build(&dir, "go", &["build", "-o", "sample", file]);
                ("./sample", vec![])
            }
            ("csharp", _) => {
                assert_eq!(file, "sample.cs", "the C# sample is built as printed");
                build(&dir, MCS[0], &MCS[1..]);
                ("mono", vec!["sample.exe"])
            }
            ("browser", _) => {
                assert_eq!(file, "sample.mjs", "the harness imports ./sample.mjs");
                dir.write("harness.mjs", BROWSER_HARNESS);
                ("node", vec!["harness.mjs"])
            }
            (other, _) => panic!("no way to run {other}"),
        };
        Sample {
            program: program.to_string(),
            args: args.into_iter().map(String::from).collect(),
            dir,
        }
    }

    /// The command that runs the sample, with `credential` (variable, value)
    /// in its environment; None leaves every credential variable unset.
    pub fn command(&self, credential: Option<(&str, &str)>) -> Command {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut cmd = self.dir.command(&self.program, &args);
        if let Some((var, value)) = credential {
            cmd.env(var, value);
        }
        cmd
    }
}

fn build(dir: &TempDir, program: &str, args: &[&str]) {
    let ran = run(dir.command(program, args), Duration::from_secs(600));
    assert_eq!(
        ran.code,
        Some(0),
        "{program} {}: build failed\n{ran}",
        args.join(" ")
    );
}

// ------------------------------------------------------------------ processes

pub const MINUTE: Duration = Duration::from_secs(60);

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "eventward-samples-{tag}-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// `program args…` in this directory, with the environment every sample
    /// tool gets: no proxy for loopback, Go's caches under the target dir and
    /// no module downloads.
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let program: PathBuf = if program.contains('/') {
            self.0.join(program)
        } else {
            find_on_path(program).unwrap_or_else(|| PathBuf::from(program))
        };
        let go = Path::new(env!("CARGO_TARGET_TMPDIR")).join("samples-go");
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&self.0)
            .env("GOCACHE", go.join("cache"))
            .env("GOPATH", go.join("path"))
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-modcacherw")
            .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
            .env("DOTNET_NOLOGO", "1");
        cmd
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a finished process printed.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` with no proxies and no credential in its environment but the
/// one it was given explicitly, killing it (and failing the test) after
/// `timeout`.
pub fn run(mut cmd: Command, timeout: Duration) -> Ran {
    let given: Vec<OsString> = cmd.get_envs().map(|(k, _)| k.to_owned()).collect();
    for var in [
        "EVENTWARD_API_KEY",
        "EVENTWARD_TOKEN",
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        if !given.iter().any(|k| k == var) {
            cmd.env_remove(var);
        }
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still running after {timeout:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
    }
}
