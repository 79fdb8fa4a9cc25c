"""Latency and throughput added by the milter to a real Postfix (not collected by pytest).

    cd tests && python -m frontends.milter.bench_postfix [--text 200] [--pdf 50] [--pdf-words 3000]
        [--registry DIR [--key FILE]] [--enron]

(as root, from tests/ so that `helpers` imports).

For each setup (no milter, milter over TCP, milter over a unix socket) it times SMTP
transactions from MAIL FROM to the reply after the final dot, on one connection,
and the messages per second of four concurrent clients. `--registry` scans against a
registry of your own (say 2,000 documents and 20,000 part numbers) instead of one
secret; `--enron` sends Enron mail bodies instead of synthetic text, so the milter's
added latency with a deployment-sized registry can be set against a one-document one.
"""

from __future__ import annotations

import argparse
import shutil
import smtplib
import statistics
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

from dlp.frontends.milter.server import ListenAddress, MilterSettings
from dlp.frontends.watch.scans import warm_up
from dlp.scanner import Scanner
from helpers import prose, registry_with

from .harness import MilterThread, PostfixInstance, SmtpSink, free_port
from .test_postfix import pdf_with

SENDER, RCPT = "alice@example.com", "bob@elsewhere.example"


def text_mail(i: int) -> bytes:
    return f"From: {SENDER}\r\nTo: {RCPT}\r\nSubject: note {i}\r\n\r\n{prose(80, 1000 + i)}\r\n".encode()


def pdf_mail(i: int, pdf: bytes) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, RCPT, f"deck {i}"
    message.set_content("Deck attached.")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="deck.pdf")
    return message.as_bytes()


def timed(port: int, mails: list[bytes]) -> list[float]:
    out = []
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        for data in mails:
            started = time.perf_counter()
            smtp.sendmail(SENDER, [RCPT], data)
            out.append(time.perf_counter() - started)
    return out


def throughput(port: int, clients: int, each: int) -> float:
    mails = [text_mail(i) for i in range(each)]
    threads = [threading.Thread(target=timed, args=(port, mails)) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return clients * each / (time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if len(values) > 1 else values[0] * 1000


def bench(setup: str, scan, texts: list[bytes], pdfs: list[bytes]) -> dict:
    with SmtpSink() as sink:
        root = Path(tempfile.mkdtemp(prefix="dlp-bench-", dir="/tmp"))
        root.chmod(0o755)
        if setup == "none":
            address, milter_spec = None, None
        elif setup == "tcp":
            port = free_port()
            address, milter_spec = ListenAddress("inet", "127.0.0.1", port), f"inet:127.0.0.1:{port}"
        else:
            path = str(root / "milter.sock")
            address, milter_spec = ListenAddress("unix", path=path), f"unix:{path}"
        milter = MilterThread(scan, MilterSettings(socket_mode=0o666), address) if address else None
        if milter:
            milter.__enter__()
        postfix = PostfixInstance(sink.port, milter_spec)
        try:
            postfix.start()
            timed(postfix.port, texts[:20])  # warm up smtpd, cleanup and the milter connection
            text = timed(postfix.port, texts)
            pdf = timed(postfix.port, pdfs) if pdfs else [0.0]
            rate = throughput(postfix.port, 4, 100)
        finally:
            postfix.stop()
            if milter:
                milter.__exit__(None, None, None)
            shutil.rmtree(root, ignore_errors=True)
    return {"text": text, "pdf": pdf, "rate": rate}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--text", type=int, default=200)
    parser.add_argument("--pdf", type=int, default=50)
    parser.add_argument("--pdf-words", type=int, default=3000)
    parser.add_argument("--registry", help="scan against this registry instead of one synthetic secret")
    parser.add_argument("--key", help="the registry's key file (default: beside it)")
    parser.add_argument("--enron", action="store_true", help="Enron mail bodies instead of synthetic text")
    args = parser.parse_args()
    if args.registry:
        from dlp.scanner import open_scanner

        scanner = open_scanner(args.registry, args.key, environ={})
    else:
        scanner = Scanner(registry_with(Path(tempfile.mkdtemp()), {"S-PLAN": prose(600, 11)}))
    warm_up(scanner)  # as `dlp milter` does before its scan workers fork
    if args.enron:
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
        import corpus

        bodies = [b for b in corpus.enron_bodies() if b.strip()][: args.text]
        texts = [f"From: {SENDER}\r\nTo: {RCPT}\r\nSubject: note {i}\r\n\r\n{b}\r\n".encode("utf-8", "replace")
                 for i, b in enumerate(bodies)]
    else:
        texts = [text_mail(i) for i in range(args.text)]
    pdf = pdf_with(prose(args.pdf_words, 5))
    pdfs = [pdf_mail(i, pdf) for i in range(args.pdf)]
    print(f"text mail ~{len(texts[0])} B, pdf attachment {len(pdf) // 1024} KB ({args.pdf_words} words)")
    results = {setup: bench(setup, scanner.detect_bytes, texts, pdfs) for setup in ("none", "tcp", "unix")}
    base = results["none"]
    for setup, result in results.items():
        line = f"{setup:5}"
        for kind in ("text", "pdf"):
            p50, p99 = percentile(result[kind], 50), percentile(result[kind], 99)
            added = "" if setup == "none" else (
                f" (+{p50 - percentile(base[kind], 50):.1f} / +{p99 - percentile(base[kind], 99):.1f})")
            top = max(result[kind]) * 1000
            line += f"  {kind}: p50 {p50:.1f} ms p99 {p99:.1f} ms max {top:.1f} ms{added}"
        line += f"  4 clients: {result['rate']:.0f} msg/s"
        print(line)


if __name__ == "__main__":
    main()
