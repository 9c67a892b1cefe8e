#!/usr/bin/env python3
"""The reference importer batchport is measured against (benches/scale.rs).

What a competent Python importer of the generated 15-column profile file does:
csv.reader, the same mapping and checks (e-mail shape, subscription words,
E.164 phone, language/region codes, dates to RFC 3339, bool/float/int, arrays),
orjson bodies of 10,000 operations, aiohttp POSTs to /profiles/mass-update with
4 in flight. Prints one JSON line: rows, sent, rejected, requests, seconds.

    python3 benches/reference_importer.py FILE.csv BASE_URL
"""

import asyncio
import csv
import re
import sys
import time

import aiohttp
import orjson

BATCH = 10_000
IN_FLIGHT = 4
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
YES, NO = {"yes"}, {"no"}


def optin(v):
    v = v.strip().lower()
    if v in YES:
        return "subscribed"
    if v in NO:
        return "unsubscribed"
    raise ValueError("subscription")


def row_to_op(r):
    (cid, email, email_optin, phone, sms_optin, lang, region, tz,
     first, last, birth, premium, ltv, orders, interests) = (c.strip() for c in r)
    if not cid:
        raise ValueError("custom_id")
    if not EMAIL.match(email):
        raise ValueError("email")
    if not (phone.startswith("+") and phone[1:].isdigit() and 2 <= len(phone) - 1 <= 15):
        raise ValueError("phone")
    if len(lang) != 2 or len(region) != 2 or "/" not in tz:
        raise ValueError("locale")
    if not DATE.match(birth):
        raise ValueError("birthdate")
    y, m, d = (int(x) for x in birth.split("-"))
    if not (1 <= m <= 12 and 1 <= d <= 31):
        raise ValueError("birthdate")
    p = premium.lower()
    if p not in ("true", "false", "yes", "no", "1", "0"):
        raise ValueError("is_premium")
    return {
        "identifiers": {"custom_id": cid},
        "attributes": {
            "$email_address": email,
            "$email_marketing": optin(email_optin),
            "$phone_number": phone,
            "$sms_marketing": optin(sms_optin),
            "$language": lang.lower(),
            "$region": region.upper(),
            "$timezone": tz,
            "first_name": first,
            "last_name": last,
            "date(birthdate)": birth + "T00:00:00Z",
            "is_premium": p in ("true", "yes", "1"),
            "lifetime_value": float(ltv),
            "orders": int(orders),
            "interests": [i.strip() for i in interests.split("|") if i.strip()],
        },
    }


async def main(path, base_url):
    started = time.perf_counter()
    url = base_url.rstrip("/") + "/2.11/profiles/mass-update"
    headers = {
        "Authorization": "Bearer emulator_rest_key",
        "X-Batch-Project": "project_emulator",
        "Content-Type": "application/json",
    }
    rows = sent = rejected = requests = 0
    tasks = set()

    async def post(session, body, n):
        nonlocal sent, requests
        async with session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            requests += 1
            if resp.status // 100 == 2:
                sent += n

    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector) as session:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            next(reader)
            ops = []
            for r in reader:
                rows += 1
                try:
                    ops.append(row_to_op(r))
                except (ValueError, IndexError):
                    rejected += 1
                    continue
                if len(ops) == BATCH:
                    while len(tasks) >= IN_FLIGHT:
                        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                        tasks.difference_update(done)
                    t = asyncio.create_task(post(session, orjson.dumps(ops), len(ops)))
                    tasks.add(t)
                    ops = []
                    # Let the event loop move the requests along between batches.
                    await asyncio.sleep(0)
            if ops:
                tasks.add(asyncio.create_task(post(session, orjson.dumps(ops), len(ops))))
            if tasks:
                await asyncio.gather(*tasks)
    print(orjson.dumps({
        "rows": rows, "sent": sent, "rejected": rejected, "requests": requests,
        "seconds": time.perf_counter() - started,
    }).decode())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
