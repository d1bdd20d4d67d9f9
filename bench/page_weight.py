"""What a patient's phone downloads: bytes of each patient page on the first visit (the page and every
file it links, as sent to a browser that accepts brotli) and on a repeat visit (the page only: the files
have content-hashed names and are cached for a year), next to the same without compression.

    .venv/bin/python bench/page_weight.py

In process (the app's own WSGI stack, WhiteNoise included); SQLite in a temporary folder. Target: every
patient page at 30 KB or less on the first visit. Bytes are bodies as sent; headers are not counted.
"""

import re
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import consultations as consultation_bench  # noqa: E402  (sets the bench environment first)

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.redis_embedded import stop_embedded_redis  # noqa: E402

TARGET = 30 * 1024
# A phone's browser: it opened the link itself (Sec-Fetch-Site: none), and then loads the page's files.
NAVIGATE = {"Accept-Encoding": "gzip, deflate, br", "Sec-Fetch-Site": "none"}
SUBRESOURCE = {"Accept-Encoding": "gzip, deflate, br", "Sec-Fetch-Site": "same-origin"}
PLAIN = {"Accept-Encoding": "identity"}


def assets_of(html: str) -> list[str]:
    return sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', html)))


def weigh(client, path: str) -> dict:
    packed = client.get(path, headers=NAVIGATE)
    assert packed.status_code == 200, (path, packed.status_code)
    plain = client.get(path, headers=PLAIN)
    html = plain.get_data(as_text=True)
    files = assets_of(html)
    files_packed = sum(len(client.get(f, headers=SUBRESOURCE).data) for f in files)
    files_plain = sum(len(client.get(f, headers=PLAIN).data) for f in files)
    cached = all("immutable" in client.get(f, headers=SUBRESOURCE).headers.get("Cache-Control", "") for f in files)
    return {"html": len(packed.data), "html_plain": len(plain.data), "files": files_packed,
            "files_plain": files_plain, "first": len(packed.data) + files_packed,
            "first_plain": len(plain.data) + files_plain, "repeat": len(packed.data) if cached else None}


def main():
    app = create_app()
    _, links = consultation_bench.build(app, 10, 1)
    from portal.checkin import services as checkin

    with app.app_context():
        checkin_token = checkin.create_link(1, date.today(), "bench")
        db.session.commit()
    cid, raw, birth = links[0]
    try:
        client = app.test_client()
        rows = [("consultation link (identity check)", weigh(client, f"/c/{raw}")),
                ("check-in link (identity check)", weigh(client, f"/checkin/{checkin_token}")),
                ("direct start", weigh(client, "/start"))]
        page = client.get(f"/c/{raw}").get_data(as_text=True)
        signed_in = client.post(f"/c/{raw}", data={"csrf_token": consultation_bench.csrf_of(page),
                                                   "last_name": "Bench", "birth_date": birth})
        assert signed_in.status_code == 302, signed_in.status_code
        rows.append(("waiting room / chat", weigh(client, "/c/room")))
        print(f"{'patient page':<36} {'first visit':>12} {'(uncompressed)':>15} {'repeat visit':>13}")
        for name, r in rows:
            repeat = f"{r['repeat'] / 1024:.1f} KB" if r["repeat"] is not None else "not cached"
            print(f"{name:<36} {r['first'] / 1024:>9.1f} KB {r['first_plain'] / 1024:>12.1f} KB {repeat:>13}")
        worst = max(rows, key=lambda row: row[1]["first"])
        print(f"heaviest first visit: {worst[1]['first'] / 1024:.1f} KB ({worst[0]}); target {TARGET // 1024} KB: "
              f"{'met' if worst[1]['first'] <= TARGET else 'NOT met'}")
    finally:
        stop_embedded_redis(app.config["INSTANCE_PATH"])


if __name__ == "__main__":
    main()
