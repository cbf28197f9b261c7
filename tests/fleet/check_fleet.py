"""The fleet page in a real browser: headless Debian Chromium driven by Selenium.

Run by tests/fleet_browser.rs, which starts `provedge serve` with an admin listener, boots
phones of several vendors and hands this script what it must find:

    check_fleet.py EXPECTED.json

EXPECTED.json: {"base": "http://127.0.0.1:PORT", "chromedriver": PATH, "chromium": PATH,
"screenshot": PATH.png, "devices": [{"mac", "vendor", "model", "seen"}...],
"filter": TEXT, "device": MAC, "secrets": [TEXT...]}

Checks, in order: the rows (vendor, model, MAC; never-seen devices first), a sort header
clicked (and clicked again), the filter form submitted, the page with JavaScript switched off
(the table is the server's), a 390x844 phone viewport (nothing wider than the screen, key
columns on it) with its screenshot (a PNG of that size, not one flat colour), and a device
page that masks the SIP password. Prints one JSON line of timings; exits 1 naming the first
check that failed.
"""

import json
import struct
import sys
import time
import zlib

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

PHONE = (390, 844)
MASK = "\u2022" * 6


class Failed(Exception):
    pass


def check(ok, what):
    if not ok:
        raise Failed(what)


def browser(cfg, javascript=True, size=(1280, 900)):
    opts = webdriver.ChromeOptions()
    opts.binary_location = cfg["chromium"]
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--window-size=%d,%d" % size,
        "--no-first-run",
        "--disable-extensions",
    ):
        opts.add_argument(arg)
    if not javascript:
        opts.add_argument("--blink-settings=scriptEnabled=false")
        opts.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(service=Service(executable_path=cfg["chromedriver"]), options=opts)
    driver.set_page_load_timeout(30)
    return driver


def rows(driver):
    """(mac, vendor, model, never seen, visible) of each table row, in page order."""
    out = []
    for tr in driver.find_elements(By.CSS_SELECTOR, "#devices tbody tr"):
        cell = lambda cls: tr.find_element(By.CSS_SELECTOR, "td." + cls).text.strip()
        out.append(
            {
                "mac": tr.get_attribute("data-mac"),
                "vendor": cell("vendor"),
                "model": cell("model"),
                "never": "unseen" in (tr.get_attribute("class") or "").split(),
                "last": cell("last"),
                "visible": tr.is_displayed(),
            }
        )
    return out


def expected_order(devices, key, reverse=False):
    """Never-seen devices first, each group by `key` then MAC (ties by MAC ascending)."""
    def group(never):
        chosen = [d for d in devices if (not d["seen"]) == never]
        chosen.sort(key=lambda d: d["mac"])
        chosen.sort(key=lambda d: d[key].lower(), reverse=reverse)
        return [d["mac"] for d in chosen]

    return group(True) + group(False)


def load(driver, url):
    driver.get(url)
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "devices"))


def check_rows(driver, cfg):
    got = rows(driver)
    want = {d["mac"]: d for d in cfg["devices"]}
    check(len(got) == len(want), "rows: %d shown, %d expected" % (len(got), len(want)))
    for row in got:
        d = want.get(row["mac"])
        check(d is not None, "rows: unexpected device %s" % row["mac"])
        check(row["vendor"] == d["vendor"], "rows: %s vendor %r" % (row["mac"], row["vendor"]))
        check(row["model"] == d["model"], "rows: %s model %r" % (row["mac"], row["model"]))
        check(row["never"] == (not d["seen"]), "rows: %s never-seen mark" % row["mac"])
    never = [r["never"] for r in got]
    check(never == sorted(never, reverse=True), "rows: never-seen devices are not first")
    check(all("never seen" in r["last"] for r in got if r["never"]), "rows: never-seen text")
    check(all("UTC" in r["last"] for r in got if not r["never"]), "rows: last fetch time")
    # The default order is by MAC.
    check(
        [r["mac"] for r in got] == expected_order(cfg["devices"], "mac"),
        "rows: default order by MAC",
    )


def check_sort(driver, cfg):
    driver.find_element(By.ID, "sort-vendor").click()
    WebDriverWait(driver, 10).until(lambda d: "sort=vendor" in d.current_url)
    order = [r["mac"] for r in rows(driver)]
    check(order == expected_order(cfg["devices"], "vendor"), "sort: vendor ascending %s" % order)
    driver.find_element(By.ID, "sort-vendor").click()
    WebDriverWait(driver, 10).until(lambda d: "dir=desc" in d.current_url)
    order = [r["mac"] for r in rows(driver)]
    want = expected_order(cfg["devices"], "vendor", reverse=True)
    check(order == want, "sort: vendor descending %s, expected %s" % (order, want))


def filtered(cfg):
    text = cfg["filter"].lower()
    return sorted(
        d["mac"]
        for d in cfg["devices"]
        if text in " ".join([d["mac"], d["vendor"], d["model"]]).lower()
    )


def submit_filter(driver, cfg):
    box = driver.find_element(By.ID, "q")
    box.clear()
    box.send_keys(cfg["filter"])
    driver.find_element(By.ID, "apply").click()
    WebDriverWait(driver, 10).until(lambda d: "q=" in d.current_url)
    got = rows(driver)
    check(
        sorted(r["mac"] for r in got) == filtered(cfg),
        "filter: %s shown for %r" % ([r["mac"] for r in got], cfg["filter"]),
    )
    check(
        driver.find_element(By.ID, "q").get_attribute("value") == cfg["filter"],
        "filter: the box keeps the text",
    )


def check_filter(driver, cfg):
    load(driver, cfg["base"] + "/fleet")
    # With JavaScript, typing filters at once (an enhancement: the form does the same).
    box = driver.find_element(By.ID, "q")
    box.send_keys(cfg["filter"])
    WebDriverWait(driver, 5).until(
        lambda d: sum(r["visible"] for r in rows(d)) == len(filtered(cfg))
    )
    submit_filter(driver, cfg)


def check_without_javascript(cfg):
    driver = browser(cfg, javascript=False)
    try:
        load(driver, cfg["base"] + "/fleet?sort=vendor")
        check_rows_present = rows(driver)
        check(len(check_rows_present) == len(cfg["devices"]), "no-js: rows missing")
        order = [r["mac"] for r in check_rows_present]
        check(order == expected_order(cfg["devices"], "vendor"), "no-js: server-side sort")
        # No script runs: typing hides nothing until the form is sent.
        driver.find_element(By.ID, "q").send_keys(cfg["filter"])
        time.sleep(0.3)
        check(all(r["visible"] for r in rows(driver)), "no-js: a script ran")
        driver.find_element(By.ID, "apply").click()
        WebDriverWait(driver, 10).until(lambda d: "q=" in d.current_url)
        check(
            sorted(r["mac"] for r in rows(driver)) == filtered(cfg),
            "no-js: the form's filter",
        )
    finally:
        driver.quit()


def png_size_and_colours(data):
    """(width, height, distinct colours among sampled pixels) of an 8-bit RGB(A) PNG."""
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "screenshot: not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            check(depth == 8 and colour in (2, 6), "screenshot: PNG type %d/%d" % (depth, colour))
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    previous = bytearray(stride)
    colours = set()
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        previous = line
        if y % 4 == 0:
            for x in range(0, width, 3):
                colours.add(bytes(line[x * bpp : x * bpp + 3]))
    return width, height, len(colours)


def check_phone(cfg):
    driver = browser(cfg, size=PHONE)
    try:
        width, height = PHONE
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True},
        )
        load(driver, cfg["base"] + "/fleet")
        inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        check(inner == [width, height], "phone: viewport %s" % inner)
        widths = driver.execute_script(
            """var t = document.getElementById('fleet-table');
               return [t.scrollWidth, t.clientWidth, document.documentElement.scrollWidth];"""
        )
        check(widths[0] <= widths[1], "phone: the table overflows its container %s" % widths)
        check(widths[2] <= width, "phone: the page is wider than the screen %s" % widths)
        # The first row (never seen: its empty cells are left out) and the first seen one.
        first = driver.find_element(By.CSS_SELECTOR, "#devices tbody tr")
        seen = driver.find_element(By.CSS_SELECTOR, "#devices tbody tr:not(.unseen)")
        for row, columns in (
            (first, ("mac", "vendor", "model", "last")),
            (seen, ("mac", "vendor", "model", "last", "ip", "fw", "file", "status")),
        ):
            for cls in columns:
                cell = row.find_element(By.CSS_SELECTOR, "td." + cls)
                rect = cell.rect
                check(cell.is_displayed(), "phone: %s column hidden" % cls)
                check(
                    rect["x"] >= 0 and rect["x"] + rect["width"] <= width + 0.5,
                    "phone: %s column off screen %s" % (cls, rect),
                )
        check(driver.find_element(By.ID, "q").is_displayed(), "phone: the filter box")
        png = driver.get_screenshot_as_png()
        with open(cfg["screenshot"], "wb") as f:
            f.write(png)
        w, h, colours = png_size_and_colours(png)
        check((w, h) == (width, height), "screenshot: %dx%d" % (w, h))
        check(colours >= 8, "screenshot: %d colours, a blank page" % colours)
        return {"screenshot_colours": colours}
    finally:
        driver.quit()


def check_device(driver, cfg):
    load(driver, cfg["base"] + "/fleet")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-mac="%s"] td.mac a' % cfg["device"]).click()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "vars"))
    check("/fleet/device/" + cfg["device"] in driver.current_url, "device: link")
    source = driver.page_source
    for secret in cfg["secrets"]:
        check(secret not in source, "device: a secret is on the page")
    check(MASK in driver.find_element(By.ID, "lines").text, "device: the SIP password mask")
    fetches = driver.find_elements(By.CSS_SELECTOR, "#fetches tbody tr")
    check(len(fetches) >= 1, "device: recent fetches")
    check(driver.find_element(By.ID, "mac").text == cfg["device"], "device: its MAC")


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    took = {}
    step = "start"
    try:
        began = time.monotonic()
        driver = browser(cfg)
        try:
            took["start"] = time.monotonic() - began
            for name, run in (
                ("rows", lambda: (load(driver, cfg["base"] + "/fleet"), check_rows(driver, cfg))),
                ("sort", lambda: check_sort(driver, cfg)),
                ("filter", lambda: check_filter(driver, cfg)),
                ("device", lambda: check_device(driver, cfg)),
            ):
                step, began = name, time.monotonic()
                run()
                took[name] = round(time.monotonic() - began, 2)
        finally:
            driver.quit()
        step, began = "no-js", time.monotonic()
        check_without_javascript(cfg)
        took[step] = round(time.monotonic() - began, 2)
        step, began = "phone", time.monotonic()
        extra = check_phone(cfg)
        took[step] = round(time.monotonic() - began, 2)
    except Failed as e:
        print("FAILED %s: %s" % (step, e), file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # a driver error: say where
        print("ERROR %s: %s: %s" % (step, type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
    took["start"] = round(took["start"], 2)
    print(json.dumps({"ok": True, "seconds": took, **extra}))


if __name__ == "__main__":
    main()
