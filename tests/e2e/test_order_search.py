"""Order search on the real stack: filters, cursor paging with a stable sort, lookup by number."""

from __future__ import annotations

import datetime as dt
import uuid

from tests.e2e.conftest import E2E


def test_search_filters_pages_and_finds_by_number(e2e: E2E) -> None:
    url = f"{e2e.stack.url('sales')}/orders"
    ref = uuid.uuid4().hex[:8]
    placed = [e2e.place("CUST-BOLT", [("SKU-BOLT-M8", 1)], external_ref=f"search-{ref}-{i}") for i in range(3)]
    ids = [p["order_id"] for p in placed]

    mine = [o for o in e2e.http.get(url, params={"customer_id": "CUST-BOLT", "limit": 1000}).json()
            if o["order_id"] in ids]
    assert [o["order_id"] for o in mine] == ids[::-1]                      # newest first

    today = dt.date.today().isoformat()
    seen, cursor, pages = [], None, 0
    while True:                                                             # two per page, no gaps, no repeats
        params = {"customer_id": "CUST-BOLT", "created_from": today, "created_to": today, "limit": 2}
        response = e2e.http.get(url, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        seen += [o["order_id"] for o in response.json()]
        pages += 1
        cursor = response.headers.get("x-next-cursor")
        if not cursor:
            assert "link" not in response.headers
            break
        assert 'rel="next"' in response.headers["link"]
    assert len(seen) == len(set(seen)) and set(ids) <= set(seen) and pages >= 2
    everything = [o["order_id"] for o in e2e.http.get(url, params={**params, "limit": 1000}).json()]
    assert seen == everything

    by_ref = e2e.http.get(url, params={"external_ref": f"search-{ref}-1"}).json()
    assert [o["order_id"] for o in by_ref] == [ids[1]]
    by_number = e2e.http.get(url, params={"order_number": placed[2]["order_number"]}).json()
    assert [o["order_id"] for o in by_number] == [ids[2]]
    assert e2e.order(placed[0]["order_number"])["order_id"] == ids[0]      # GET /orders/SO-000123
    assert e2e.http.get(f"{url}/SO-999999999").status_code == 404

    unknown = e2e.http.get(url, params={"customer": "CUST-BOLT", "state": "x"})
    assert unknown.status_code == 422
    assert sorted(e["loc"][1] for e in unknown.json()["detail"]) == ["customer", "state"]
    for order_id in ids:
        e2e.wait_final(order_id)
