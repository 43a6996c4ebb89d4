//! Generates the files the Debian package ships beside the binary and the
//! example configuration, all derived from what is in the repository:
//!
//! - `man/eventward.1` and one page per subcommand (`eventward-key-create.1`,
//!   …), from the clap definition `eventward::cli::Cli` (clap_mangen);
//! - `completions/eventward` (bash), `completions/_eventward` (zsh),
//!   `completions/eventward.fish`, from the same definition (clap_complete);
//! - `eventward.service`: `systemd/eventward.service` with its programs in
//!   /usr/bin instead of /usr/local/bin and the manual installation steps of
//!   its header replaced by the package's.
//!
//! `packaging/build-deb.sh` runs it before `cargo deb`:
//! `cargo run --example gen_assets -- target/assets`. An example rather than
//! a subcommand of the daemon, so that clap_mangen and clap_complete stay
//! dev-dependencies and the shipped binary carries none of this.

use std::fs;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

const BIN: &str = "eventward";

fn main() {
    let out = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .expect("usage: gen_assets OUT_DIR"),
    );
    // Start empty, so that a subcommand removed from the CLI also disappears
    // from the package's man pages.
    if out.exists() {
        fs::remove_dir_all(&out).unwrap_or_else(|e| panic!("removing {}: {e}", out.display()));
    }
    man_pages(&out.join("man"));
    completions(&out.join("completions"));
    packaged_unit(&out.join("eventward.service"));
    println!("generated {}", out.display());
}

fn man_pages(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    clap_mangen::generate_to(eventward::cli::Cli::command(), dir)
        .unwrap_or_else(|e| panic!("man pages in {}: {e}", dir.display()));
}

fn completions(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    // File names where bash-completion, zsh and fish look for them (see the
    // package's assets in Cargo.toml).
    for (shell, file) in [
        (Shell::Bash, BIN.to_string()),
        (Shell::Zsh, format!("_{BIN}")),
        (Shell::Fish, format!("{BIN}.fish")),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut eventward::cli::Cli::command(), BIN, &mut buf);
        fs::write(dir.join(file), buf).unwrap();
    }
}

/// The unit for manual installs, made into the packaged one. Fails loudly
/// when the manual unit no longer has the shape this expects, rather than
/// shipping a unit that points at /usr/local/bin.
fn packaged_unit(path: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/eventward.service");
    let manual = fs::read_to_string(&source).unwrap();
    const STEPS_START: &str = "# Install:\n";
    const STEPS_END: &str = "# The service runs as a transient user";
    let start = manual
        .find(STEPS_START)
        .unwrap_or_else(|| panic!("{}: no {STEPS_START:?} line", source.display()));
    let end = manual[start..]
        .find(STEPS_END)
        .map(|i| start + i)
        .unwrap_or_else(|| panic!("{}: no {STEPS_END:?} after the steps", source.display()));
    let steps = "\
# Installed by the eventward Debian package, which neither enables nor starts
# it: it cannot run before it has its secrets. Then:
#   edit /etc/eventward/eventward.toml                                     # a conffile
#   install -d -m 0700 /etc/eventward/credentials
#   printf %s 'postgres://eventward:SECRET@db.internal/eventward' > /etc/eventward/credentials/database-url
#   printf %s 'amqps://eventward:SECRET@mq.internal/%2f' > /etc/eventward/credentials/amqp-url
#   chmod 0600 /etc/eventward/credentials/*
#   systemctl enable --now eventward
# Local changes belong in a drop-in (systemctl edit eventward), not here.
#
";
    let packaged = format!("{}{steps}{}", &manual[..start], &manual[end..])
        .replace("/usr/local/bin/eventward", "/usr/bin/eventward");
    assert!(
        packaged.contains("ExecStart=/usr/bin/eventward ") && !packaged.contains("/usr/local"),
        "{}: the packaged unit must run /usr/bin/eventward and mention no /usr/local",
        source.display()
    );
    fs::write(path, packaged).unwrap();
}
