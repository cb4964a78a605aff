"""Ingest: log files -> canonical rows -> one store transaction per file.

For each file: skip it if it is plainly no log (`sources`), detect the format,
find where its content was already ingested (fingerprint.find_resume), parse the
remaining lines batch by batch, drop rows older than the retention cutoff,
quarantine bad lines, and commit the rows, the quarantine and a manifest
checkpoint together. A file that cannot be read to the end (corrupt or truncated
compression) is aborted whole: nothing of it becomes visible. Any failure of one
file, expected or not, fails that file alone, with one line naming it, and the
run goes on to the next. Every line is accounted for: lines = rows + duplicates
+ expired + rejected + held back (blank lines, a CSV header and, in a syslog
feed, other programs' lines are counted apart, as `ignored`; so are the ignored
lines of a resumed file's committed prefix, whose counted lines the committed
records give: `fingerprint.counted_lines`). The caller holds the lock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from ingest import detect, envelope, fast, fingerprint, repeats, sources, vendor_csv
from ingest.badlines import sane
from ingest.badlines import fix_invalid_utf8 as _fix_invalid_utf8
from ingest.badlines import too_long as _too_long
from ingest.interrupted import FileInterrupted, Interrupted
from ingest.reader import Tail, first_lines, iter_batches, prefetch
from ingest.streams import compression_of
from ingest.writer import BackgroundWriter, writing
from surfaudit import audit, clock
from surfaudit.config import Config
from surfaudit.errors import CommittedError, ConfigError, InputError, StoreError, UsageError
from surfaudit.interrupt import deferred
from surfaudit.safetext import printable
from surfaudit.store import Store

Progress = Callable[[str, int, int], None]  # (file name, bytes done, bytes total)


@dataclass
class FileResult:
    file: str
    format: str = "-"
    lines: int = 0  # lines read this run, duplicates included
    rows: int = 0  # rows written
    duplicates: int = 0  # lines skipped because already ingested
    expired: int = 0  # rows older than the retention cutoff, not written
    rejected: int = 0  # malformed lines, quarantined
    held_back: int = 0  # an unfinished last line of a live file, left for the next run
    ignored: int = 0  # blank lines, a CSV header, other programs' syslog lines: no data, not in `lines`
    not_requests: int = 0  # records that are no web request (FortiGate traffic, squidGuard's own messages)
    error: str | None = None  # the file was rejected whole
    skipped: str | None = None  # why the file was not read: it is no log (not an error)

    @property
    def status(self) -> str:
        if self.error:
            return "failed"
        if self.skipped:
            return "skipped"
        return "bad lines" if self.rejected else "ok"

    def as_dict(self) -> dict:
        return {**asdict(self), "status": self.status}


COMPILING = ("compiling the log parser for this format (once after an install or upgrade; it can take a minute "
             "on a busy machine, later runs load it from the cache)")
COMPILED = "the log parser is compiled"  # told after COMPILING, when the compile has ended
SLOW_AFTER = 2.0  # seconds of loading the scanners before COMPILING is told
UNCACHED = ("no writable cache directory for the compiled log parsers ({where}): every run compiles them again "
            "(up to two minutes per format); set NUMBA_CACHE_DIR to a writable directory")
REFERENCE = ("the compiled log parsers are not available (numba is not installed, or does not import): "
             "reading with the reference parsers, several times slower; install surfaudit[fast]")
Notice = Callable[[str], None]

# The compiled scanners (modules of `ingest.fast`) each format uses: compiled on
# the first file of that format (then cached on disk), never all at once.
_SCANNERS = {
    "squid": ("squid_scan",),
    "surfprotect": ("csv_scan", "vendor_scan", "text_scan"),
    "e2guardian": ("e2guardian_scan",),
    "squidguard": ("squidguard_scan",),
    "fortigate": ("fortigate_scan",),
}
_VENDOR_SCANNERS = ("vendor_scan", "text_scan")
_warmed: set[str] = set()
_warned: set[str] = set()  # what `warn` was told in this process (each once)
_cache_misses = fast.cache_misses  # (a name of this module: tests stand in for it)


def _scanners_of(choice: detect.Choice, cfg: Config | None) -> list[str]:
    names = list(_SCANNERS.get(choice.format.NAME, _VENDOR_SCANNERS))
    if choice.format.NAME == "squid" and cfg is not None and cfg.formats.squid_logformat != "squid":
        names.append("squid_logformat_scan")
    if choice.enveloped:
        names.append("envelope_scan")
    return names


def _warn_once(warn: Notice | None, text: str) -> None:
    if warn is not None and text not in _warned:
        _warned.add(text)
        warn(text)


def _warm_modules(names: Iterable[str], notice: Notice | None = None, warn: Notice | None = None) -> None:
    """Compile (or load from the cache) the compiled scanners of `names` not yet
    loaded in this process; `notice` is told COMPILING, once, if after SLOW_AFTER
    seconds numba is really compiling (a cache load that is merely slow on a busy
    machine says nothing: cron mails whatever reaches stderr), then COMPILED when
    it ends; `warn`, once per process, when there is no compiled scanner or no
    cache to keep them in."""
    if not fast.enabled():
        if fast.wanted():  # (SURFAUDIT_NO_JIT=1 is a choice: nothing to say)
            _warn_once(warn, REFERENCE)
        return
    todo = [n for n in names if n not in _warmed]
    if not todo:
        return
    told, done = threading.Event(), threading.Event()
    before = _cache_misses()

    def watch() -> None:
        if done.wait(SLOW_AFTER):
            return
        while not done.wait(0.25):
            if _cache_misses() > before:
                told.set()
                notice(COMPILING)
                return

    watcher = threading.Thread(target=watch, daemon=True) if notice else None
    if watcher:
        watcher.start()
    try:
        for name in todo:
            warm_fn = getattr(fast.load(name), "warm", None)
            if fast.load("jit").uncached():
                where = os.environ.get("NUMBA_CACHE_DIR") or "__pycache__ beside the package, the user's cache"
                _warn_once(warn, UNCACHED.format(where=where))
            if warm_fn is not None:
                warm_fn()
            _warmed.add(name)
    finally:
        done.set()
        if watcher:
            watcher.join()  # COMPILING has been told before COMPILED
            if told.is_set():
                notice(COMPILED)


def warm(notice: Callable[[str], None] | None = None, jobs: int = 1) -> None:
    """Compile every parser's scanners now (numba; after the first run they load
    from its on-disk cache in a fraction of a second). Tests and benchmarks call
    this first so that no timing includes the one-time compile; ingest itself
    compiles only what each file's format needs, on first use. With `jobs` > 1, a
    cold cache (the first module missed it) is filled by that many processes at once;
    `notice` hears which of them failed, if any."""
    from ingest.reader import make_batch

    every = sorted({m for mods in _SCANNERS.values() for m in mods} | {"squid_logformat_scan", "envelope_scan",
                                                                       *_VENDOR_SCANNERS})
    if jobs > 1 and fast.enabled() and every[0] not in _warmed:
        before = _cache_misses()
        _warm_modules(every[:1], notice)
        if _cache_misses() > before and not fast.load("jit").uncached():  # (no cache: children would be wasted)
            failed = fast.compile_apart(every[1:], jobs)
            if failed and notice is not None:  # harmless (they compile here next) but worth knowing
                notice(f"compiling {', '.join(failed)} in a child process failed; compiling here instead")
    _warm_modules(every, notice)
    make_batch(b"x\n", 1, 0)


def expand(paths: Iterable[str | Path], recursive: bool = False) -> list[Path]:
    """Files named, and every file inside named directories (oldest first)."""
    return [src.path for src in sources.expand(paths, recursive)]


def check(cfg: Config, fmt: str = "auto") -> None:
    """What ingest can judge of the configuration and --format before it touches the
    store (the CLI asks first, so a mistake makes no store): an unknown --format
    (UsageError), a [formats.squid] logformat or a [formats.NAME] time_format it cannot
    read (ConfigError naming the file and key)."""
    if fmt != "auto":
        try:  # an unknown --format is a usage error, before any file is read
            detect.get_format(fmt, cfg)
        except InputError as exc:
            raise UsageError(str(exc)) from None
    from ingest import squid_logformat, vendor_csv

    try:
        squid_logformat.validate(cfg.formats.squid_logformat)  # a bad logformat stops the run, naming the code
    except ConfigError as exc:
        raise ConfigError(f"{cfg.source}: {exc}" if cfg.source else str(exc)) from None
    vendor_csv.check_time_formats(cfg)  # one that cannot be read is a config error, before any file


def ingest_paths(store: Store, cfg: Config, paths: Iterable[str | Path], fmt: str = "auto",
                 progress: Progress | None = None, now: datetime | None = None,
                 notice: Notice | None = None, warn: Notice | None = None) -> list[FileResult]:
    """Ingest every file; one FileResult each. The caller holds the store lock.
    `notice` hears of a slow first run (see `warm`); `warn`, once per process, of
    what makes every run slow (no compiled parsers, or no cache for them)."""
    check(cfg, fmt)
    store.ensure()
    cutoff = clock.retention_cutoff(cfg.retention.months, now)
    found = sources.expand(paths, cfg.ingest.recursive)
    results: list[FileResult] = []
    for i, src in enumerate(found):
        try:
            results.append(ingest_file(store, cfg, src.path, fmt, cutoff, progress, found=src.found, notice=notice,
                                       warn=warn))
        except KeyboardInterrupt as exc:
            cut = exc if isinstance(exc, FileInterrupted) else None
            stop = Interrupted(results, str(src.path), bool(cut and cut.committed), cut.rows if cut else 0,
                               [str(s.path) for s in found[i + 1:]])
            with deferred():  # a second Ctrl-C does not lose the entry
                audit.record(store, "ingest", rows=sum(r.rows for r in results) + stop.current_rows,
                             detail=stop.audit_detail())
            raise stop from None
    audit.record(store, "ingest", rows=sum(r.rows for r in results),
                 detail=f"{len(results)} files, {sum(r.rejected for r in results)} lines rejected, "
                        f"{sum(1 for r in results if r.error)} files failed, "
                        f"{sum(1 for r in results if r.skipped)} skipped")
    return results


def ingest_file(store: Store, cfg: Config, path: Path, fmt: str, cutoff: datetime,
                progress: Progress | None = None, found: bool = False,
                notice: Notice | None = None, warn: Notice | None = None) -> FileResult:
    """One file into the store; never raises for a problem of the file itself
    (`found`: the file came from a directory, so one that is no log is skipped)."""
    result = FileResult(file=str(path))
    try:
        _ingest_file(store, cfg, path, fmt, cutoff, progress, found, result, notice, warn)
    except ConfigError:
        raise  # the configuration is wrong for every file: stop, naming the key
    except CommittedError as exc:  # stored, though something after the commit failed: rows counted
        result.error = str(exc)
        return result
    except (InputError, StoreError) as exc:
        result.error = str(exc)
    except OSError as exc:
        result.error = f"{path}: cannot read ({exc.strerror or type(exc).__name__})"
    except MemoryError:
        result.error = f"{path}: out of memory while reading it; nothing from it was stored"
    except Exception as exc:  # noqa: BLE001 - one odd file must never stop the others
        result.error = (f"{path}: unexpected error while reading it ({type(exc).__name__}); "
                        "nothing from it was stored")
    if result.error or result.skipped:
        result.rows = 0
    return result


def _ingest_file(store: Store, cfg: Config, path: Path, fmt: str, cutoff: datetime,
                 progress: Progress | None, found: bool, result: FileResult,
                 notice: Notice | None = None, warn: Notice | None = None) -> None:
    if not path.exists() and not path.is_symlink():
        raise InputError(f"{path}: no such file")
    why = sources.not_a_log(path)
    if why is not None:
        if why.startswith(("a FIFO", "a device", "a socket")) and not found:
            raise InputError(f"{path}: {why}; give the log file itself")
        result.skipped = why
        return
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    head = fingerprint.head_block(path)
    lineage = fingerprint.lineage_of(head)
    finished = _finished(path, cfg)
    if lineage is None:  # empty, or a short first line not finished yet
        if not head.strip() or not finished:
            result.held_back = 1 if head.strip() else 0
            result.lines = result.held_back
            return
        lineage = fingerprint.lineage_of(head + b"\n" * 4096)
    lines = first_lines(path, max_line=cfg.ingest.max_line_bytes)
    choice = _choose_format(path, fmt, lines, cfg, found,
                            lambda: first_lines(path, n=MORE_LINES, max_line=cfg.ingest.max_line_bytes))
    if choice is None:  # found in a directory; a file named on the command line has failed already
        why = detect.explain(lines, cfg)
        if detect.is_hint(why) or sources.named_like_a_log(path):
            # it looks like a log we could read with the right setting: never pass over it in silence
            raise InputError(f"{path}: unknown log format: {why}")
        result.skipped = f"not a log of any known format ({why})"
        return
    result.format = choice.name
    records = store.lineage_records(lineage)
    checkpoints = [(r["offset_to"], r["hash"]) for r in records]
    resume = fingerprint.find_resume(path, checkpoints)
    overlap = fingerprint.Overlap.find(store, records, resume.offset)
    _warm_modules(_scanners_of(choice, cfg), notice, warn)
    first = lines[0] if lines else ""
    if choice.enveloped:
        first = envelope.strip_line(first)  # a CSV's header without its envelope
    csv_format = isinstance(choice.format, vendor_csv.VendorCsv) or choice.format is detect.FORMATS["surfprotect"]
    sep_line = csv_format and len(lines) > 1 and vendor_csv.excel_sep(first) is not None
    first = lines[1] if sep_line else first  # Excel's "sep=;" line: the header is the next one
    try:
        parser = choice.format.make_parser(first, cfg.schedule.timezone, cfg)
    except InputError as exc:  # a CSV header without the columns: name the file, show no raw bytes
        text = printable(str(exc))
        text = text if len(text) <= 300 else text[:300] + "…"
        raise InputError(text if text.startswith(str(path)) else f"{path}: {text}") from None
    if sep_line:
        parser.header_lines = getattr(parser, "header_lines", 0) + 1
    if choice.enveloped:
        parser = envelope.Enveloped(parser)
        if resume.offset and compression_of(path) is None:  # a repeat line may open the rest
            before = repeats.line_before(path, resume.offset, cfg.ingest.max_line_bytes)
            if before is not None:
                parser.resume_after(before, resume.lines)
    header = getattr(parser, "header_lines", 0)
    done = 0
    if resume.offset:  # the committed prefix: its counted lines are duplicates, the rest was ignored then too
        counted = fingerprint.counted_lines(records, resume.offset)
        done = min(counted, resume.lines) if counted is not None else max(resume.lines - header, 0)
    result.duplicates = result.lines = done
    result.ignored = resume.lines - done if resume.offset else 0
    _ingest_rest(store, path, parser, resume, lineage, cutoff, result, progress, overlap,
                 cfg.ingest.max_line_bytes, finished)


def _finished(path: Path, cfg: Config) -> bool:
    """A compressed file is complete; a plain one is when nobody has written it for
    the settle time. Only a finished file's unterminated last line is read."""
    if compression_of(path) is not None:
        return True
    return time.time() - path.stat().st_mtime >= cfg.ingest.settle_seconds


MORE_LINES = 2000  # lines detection reads when the first ones are a syslog feed's that give no answer


def _choose_format(path: Path, fmt: str, lines: list[str], cfg: Config, found: bool,
                   more: Callable[[], list[str]] | None = None) -> detect.Choice | None:
    if fmt != "auto":
        chosen = detect.get_format(fmt, cfg)
        bare = [ln for ln in lines if ln.strip()]
        env = detect._envelope()
        if bare and env is not None and not detect._looks_like(chosen, bare, cfg) and env.present(bare):
            return detect.Choice(chosen, True)
        return detect.Choice(chosen)
    choice = detect.detect(lines, cfg)
    if choice is None and more is not None and envelope.present(lines):
        lines = more()  # a firewall's whole syslog: the log's own lines may come later
        choice = detect.detect(lines, cfg)
    if choice is None and not found:
        raise InputError(f"{path}: unknown log format: {detect.explain(lines, cfg)} "
                         f"(or give --format {'|'.join(detect.names(cfg))})")
    return choice


def _ingest_rest(store: Store, path: Path, parser, resume: fingerprint.Resume, lineage: str,
                 cutoff: datetime, result: FileResult, progress: Progress | None,
                 overlap: fingerprint.Overlap | None = None, max_line: int = 65536,
                 finished: bool = False) -> None:
    hasher = resume.hasher
    end = resume.offset
    total = path.stat().st_size
    tail = Tail()
    with writing(store):
        txn = store.begin("ingest")
    writer = BackgroundWriter(txn, path.name)
    committed = False
    extra_rows = 0  # rows beyond one per line: syslog's repeat lines (their lines count as N)
    try:
        skip_header = parser.header_lines if resume.offset == 0 else 0
        # Reading, decompression and hashing run in a thread beside the parser.
        for batch in prefetch(iter_batches(path, resume.offset, resume.lines + 1, hasher=hasher,
                                           max_line=max_line, finished=finished, tail=tail)):
            end, hasher = batch.end, batch.hasher
            raw = batch.raw()  # the parser makes a String column of the lines only if it needs one
            first_no = batch.first_line_no
            header = 0
            if skip_header:
                header = min(skip_header, batch.n)
                raw, first_no, skip_header = raw.slice(header), first_no + header, skip_header - header
            rows, bad = parser.parse(None, first_no, raw)
            if bad.height and getattr(parser, "header_lines", 0):  # a CSV: exports joined with `cat`
                bad = vendor_csv.without_sep_lines(bad)
            bad = _fix_invalid_utf8(batch, bad)
            long = _too_long(batch, max_line)
            if long.height:
                bad = pl.concat([bad.filter(~pl.col("line_no").is_in(long["line_no"].implode())), long]).sort("line_no")
            # Every line is a row, a rejected line, or blank (nothing else is dropped); a
            # syslog repeat line is the N lines it stands for (ingest.repeats)
            extra = getattr(parser, "extra_rows", 0)
            extra_rows += extra
            blank = batch.n - header - (rows.height - extra) - bad.height
            result.ignored += header + blank
            other = bad.get_column("reason").str.starts_with(NOT_A_REQUEST)
            if other.any():  # expected in a mixed feed: counted, not stored, not an error
                result.not_requests += int(other.sum())
                bad = bad.filter(~other)
            result.lines += batch.n - header - blank - int(other.sum()) + extra
            rows, odd = sane(rows, first_no, raw, parser.parse)
            if odd.height:
                bad = pl.concat([bad, odd]).sort("line_no", nulls_last=True)
            fresh = rows.filter(pl.col("ts") >= cutoff)
            result.expired += rows.height - fresh.height
            if overlap is not None:  # a copy ending between checkpoints: drop what was committed
                unseen, new_bad = overlap.subtract(fresh), overlap.subtract_bad(bad)
                result.duplicates += fresh.height - unseen.height + bad.height - new_bad.height
                fresh, bad = unseen, new_bad
            result.rows += fresh.height
            result.rejected += bad.height
            with writing(store):
                writer.submit(fresh, bad)  # Parquet encoding overlaps the next batch's parse
            if progress:
                progress(path.name, min(batch.end, total), total)
        with writing(store):
            writer.drain()
        result.held_back = tail.held_back
        result.lines += tail.held_back
        if end == resume.offset:  # nothing new
            txn.abort()
            return
        with writing(store), deferred():  # a Ctrl-C lands before or after the commit, never inside
            txn.commit({"lineage": lineage, "offset_from": resume.offset, "offset_to": end,
                        "hash": fingerprint.checkpoint_digest(hasher), "file": path.name, "format": result.format,
                        "lines": result.lines, "rows": result.rows, "duplicates": result.duplicates,
                        "expired": result.expired, "rejected": result.rejected, "extra_rows": extra_rows})
            committed = True
    except KeyboardInterrupt:
        if not committed:
            writer.close()
            txn.abort()
        raise FileInterrupted(committed, result.rows if committed else 0) from None
    except CommittedError:
        writer.close()
        raise
    except BaseException:
        writer.close()
        txn.abort()
        result.rows = 0
        raise
    finally:
        writer.close()


NOT_A_REQUEST = "not a request"  # the reason a parser gives for a record that is no web request
