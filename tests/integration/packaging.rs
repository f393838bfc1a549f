//! The packages for air-gapped machines (packaging/build.sh): the .deb unpacked into a scratch
//! root as `dpkg-deb -x` does and the relocatable tarball unpacked elsewhere, each run on the
//! shipped sample data and a capture with a scratch home, checking the man pages, completions and
//! declared dependencies, and that running wrote nothing outside the user's data directory.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::repo_data;

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `dir`, relative, with its size.
fn tree(dir: &Path) -> BTreeSet<(PathBuf, u64)> {
    let mut files = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let entry = entry.expect("entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files.insert((entry.path().strip_prefix(dir).unwrap().to_path_buf(), meta.len()));
            }
        }
    }
    files
}

/// The installed binary, run as a user whose home is `home`, with no hint where the model is.
fn installed(binary: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(binary);
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .current_dir(home);
    cmd
}

/// Scores the sample CSV and a capture with `prefix/bin/netvigil`; returns the sample's verdicts.
fn score_with(prefix: &Path, home: &Path) -> String {
    std::fs::create_dir_all(home).unwrap();
    let binary = prefix.join("bin/netvigil");
    let share = prefix.join("share/netvigil");
    let out = home.join("sample-verdicts.csv");
    run_ok(
        installed(&binary, home)
            .arg("predict")
            .arg(share.join("data/cicids2017-sample.csv"))
            .arg("-o")
            .arg(&out)
            .arg("-q"),
    );
    // Source File names where the sample was read from; the rest must not depend on it.
    let sample = share.join("data/cicids2017-sample.csv");
    let verdicts =
        std::fs::read_to_string(&out).expect("verdicts written").replace(&*sample.to_string_lossy(), "SAMPLE");
    assert_eq!(verdicts.lines().count(), 1 + 798, "one verdict per sample flow");
    let capture_out = home.join("capture-verdicts.csv");
    let capture = share.join("data/captures/bruteforce_hydra_ssh.pcap");
    run_ok(installed(&binary, home).arg("predict").arg(&capture).arg("-o").arg(&capture_out).arg("-q"));
    assert!(
        std::fs::read_to_string(&capture_out).unwrap().lines().count() > 10,
        "flows extracted from the capture and scored"
    );
    // The shipped model was found beside the binary and registered in the user's history.
    let models = run_ok(installed(&binary, home).args(["history", "models", "--json"]));
    assert!(
        models.contains(&*share.join("models/default").to_string_lossy()),
        "default model from the package: {models}"
    );
    verdicts
}

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("man page")).read_to_string(&mut text).expect("gzip");
    text
}

#[test]
fn deb_and_tarball_install_offline_and_score_the_sample_and_a_capture() {
    let scratch = tempfile::tempdir().unwrap();
    let dist = scratch.path().join("dist");
    let script = crate::common::repo("packaging/build.sh");
    run_ok(Command::new(&script).arg("--binary").arg(env!("CARGO_BIN_EXE_netvigil")).arg("--out").arg(&dist));
    let deb = dist.join("netvigil_0.1.0_amd64.deb");
    let tarball = dist.join("netvigil-0.1.0-x86_64-linux.tar.gz");

    let depends = run_ok(Command::new("dpkg-deb").arg("-f").arg(&deb).arg("Depends"));
    for needed in ["libc6 (>= 2.", "libvulkan1", "mesa-vulkan-drivers | vulkan-icd"] {
        assert!(depends.contains(needed), "Depends lacks {needed}: {depends}");
    }

    // The .deb into a scratch root.
    let root = scratch.path().join("root");
    run_ok(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    let usr = root.join("usr");
    let before = tree(&root);
    let page = gunzip(&usr.join("share/man/man1/netvigil.1.gz"));
    assert!(page.contains(".TH netvigil 1") && page.contains("predict"), "man page: {}", &page[..page.len().min(300)]);
    assert!(
        gunzip(&usr.join("share/man/man1/netvigil-predict.1.gz")).contains("\\-\\-explain"),
        "predict's page lists its options"
    );
    let bash = std::fs::read_to_string(usr.join("share/bash-completion/completions/netvigil")).unwrap();
    assert!(bash.contains("_netvigil") && bash.contains("calibrate"), "bash completion");
    assert!(
        std::fs::read_to_string(usr.join("share/zsh/vendor-completions/_netvigil"))
            .unwrap()
            .contains("#compdef netvigil")
    );
    assert!(
        std::fs::read_to_string(usr.join("share/fish/vendor_completions.d/netvigil.fish"))
            .unwrap()
            .contains("complete -c netvigil")
    );
    assert!(
        usr.join("share/applications/netvigil.desktop").is_file()
            && usr.join("share/icons/hicolor/scalable/apps/netvigil.svg").is_file()
    );

    let home = scratch.path().join("home");
    let from_deb = score_with(&usr, &home);
    assert_eq!(tree(&root), before, "running the installed binary wrote inside the package's tree");
    let data_dir = home.join(".local/share/netvigil");
    assert!(data_dir.join(netvigil::store::DB_FILE).is_file(), "history in the user's data directory");
    let outside: Vec<_> = tree(&home)
        .into_iter()
        // Allowed: the data directory, the verdict files the test asked for, and the shader
        // cache that Mesa's Vulkan driver keeps in the user's cache directory when NetVigil
        // looks for a GPU (the driver's own, as for any Vulkan program).
        .filter(|(p, _)| {
            !p.starts_with(".local/share/netvigil")
                && !p.starts_with(".cache/mesa_shader_cache")
                && !p.to_string_lossy().ends_with("verdicts.csv")
        })
        .collect();
    assert!(outside.is_empty(), "files written outside the data directory: {outside:?}");

    // The tarball unpacked, then moved: it must not depend on where it was unpacked.
    let unpack = scratch.path().join("unpack");
    std::fs::create_dir_all(&unpack).unwrap();
    run_ok(Command::new("tar").arg("-xzf").arg(&tarball).arg("-C").arg(&unpack));
    let moved = scratch.path().join("somewhere-else");
    std::fs::rename(unpack.join("netvigil-0.1.0-x86_64-linux"), &moved).unwrap();
    let from_tarball = score_with(&moved, &scratch.path().join("home2"));
    assert!(from_tarball == from_deb, "the tarball's binary and model give other verdicts than the .deb's");
    // Same verdicts as the binary under test on the repository's own sample and model.
    let reference = scratch.path().join("reference.csv");
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_netvigil"))
            .arg("--data-dir")
            .arg(scratch.path().join("ref-data"))
            .args(["predict", "--model"])
            .arg(crate::common::default_model())
            .arg(repo_data("cicids2017-sample.csv"))
            .arg("-o")
            .arg(&reference)
            .arg("-q"),
    );
    let reference = std::fs::read_to_string(&reference)
        .unwrap()
        .replace(&*repo_data("cicids2017-sample.csv").to_string_lossy(), "SAMPLE");
    assert!(reference == from_deb, "the packaged binary and model give other verdicts than the build under test");
}
