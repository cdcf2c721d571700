"""`make backup` / `make restore FILE=…` for the embedded default.

backup: a consistent copy of the SQLite database taken with SQLite's online
backup API (the service keeps running and writing meanwhile), plus the
uploads (attachments) and the secret key, in one .tar.gz under
`backups/` of the data folder (or BACKUP_DIR).

restore: only while the service is stopped (`make run` not running on this
data folder); replaces the database, uploads and key with the backup's.
Messages that were due or being sent at backup time are due again after the
restore and go out once the service runs: those the backup shows as
`sending` may have been accepted already, so they can be sent twice (the
same window as a crashed worker); nothing recorded as sent is sent again.

For PostgreSQL use pg_dump / pg_restore (README, "Backups")."""

import argparse
import datetime
import os
import shutil
import sqlite3
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "proactive.sqlite3"


def data_dir() -> Path:
    return Path(os.environ.get("PROACTIVE_DATA_DIR") or ROOT / "var").resolve()


def refuse_postgres() -> None:
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit(
            "DATABASE_URL points at PostgreSQL: back it up with pg_dump -Fc "
            '(README, "Backups"); this command is for the embedded SQLite default.'
        )


def service_running(folder: Path) -> int | None:
    """The pid of a `make run` on this data folder, if one is alive."""
    pid_file = folder / "run.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def backup(destination: Path | None = None) -> Path:
    refuse_postgres()
    folder = data_dir()
    database = folder / DB_NAME
    if not database.exists():
        sys.exit(f"No database at {database}: nothing to back up.")
    out_dir = Path(os.environ.get("BACKUP_DIR") or folder / "backups")
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    target = destination or out_dir / f"proactive-{stamp}.tar.gz"
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
        copy = Path(scratch) / DB_NAME
        source = sqlite3.connect(database, timeout=30)
        dest = sqlite3.connect(copy)
        try:
            # One step: a read transaction on one snapshot of the database.
            # In WAL mode the service's writers go on meanwhile.
            source.backup(dest, pages=0)
        finally:
            dest.close()
            source.close()
        check = sqlite3.connect(copy)
        try:
            (result,) = check.execute("PRAGMA integrity_check").fetchone()
        finally:
            check.close()
        if result != "ok":
            sys.exit(f"The copy failed its integrity check: {result}")
        partial = target.with_name(target.name + ".part")
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(copy, arcname=DB_NAME)
            media = folder / "media"
            if media.is_dir():
                archive.add(media, arcname="media")
            key = folder / "secret_key"
            if key.exists():
                archive.add(key, arcname="secret_key")
        partial.replace(target)
    os.chmod(target, 0o600)  # it holds the key and every customer's details
    print(f"Backup written: {target}")
    return target


def _safe_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = []
    for member in archive.getmembers():
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts:
            sys.exit(f"Refusing a backup with an unsafe path: {member.name}")
        if not (member.isfile() or member.isdir()):
            sys.exit(f"Refusing a backup with a link or device: {member.name}")
        if name.parts[0] not in (DB_NAME, "media", "secret_key"):
            sys.exit(f"Not a Proactive backup (unexpected {member.name}).")
        members.append(member)
    return members


def restore(file: Path) -> None:
    refuse_postgres()
    folder = data_dir()
    if not file.is_file():
        sys.exit(f"No backup file at {file}.")
    pid = service_running(folder)
    if pid:
        sys.exit(f"The service is running on {folder} (pid {pid}): stop it (Ctrl-C) first.")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        with tarfile.open(file, "r:gz") as archive:
            archive.extractall(scratch, members=_safe_members(archive), filter="data")
        unpacked = Path(scratch)
        if not (unpacked / DB_NAME).exists():
            sys.exit("Not a Proactive backup (no database in it).")
        for suffix in ("-wal", "-shm"):
            (folder / f"{DB_NAME}{suffix}").unlink(missing_ok=True)
        (unpacked / DB_NAME).replace(folder / DB_NAME)
        if (unpacked / "media").is_dir():
            shutil.rmtree(folder / "media", ignore_errors=True)
            (unpacked / "media").replace(folder / "media")
        if (unpacked / "secret_key").exists():
            (unpacked / "secret_key").replace(folder / "secret_key")
    print(f"Restored {file} into {folder}. Start the service with `make run`.")


def main() -> None:
    parser = argparse.ArgumentParser(description="Back up or restore the embedded default.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("backup")
    restoring = commands.add_parser("restore")
    restoring.add_argument("file", type=Path)
    options = parser.parse_args()
    if options.command == "backup":
        backup()
    else:
        restore(options.file)


if __name__ == "__main__":
    main()
