"""Take the screenshots of docs/screenshots/ from a running OpsDesk with the demo data.

    .venv/bin/python docs/screenshots/take.py http://127.0.0.1:8000 <desk password> <changemgr password> ...

Reads the passwords from var/demo-credentials.txt when none are given. Each main page at
1280 px and at 390 px; prints any page that scrolls sideways or has a table wider than its box.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
# (file name, user, path); an incident, change and release are picked from the lists.
PAGES = [
    ("home", "desk", "/"),
    ("queue", "desk", "/incidents/"),
    ("incident", "desk", "first:/incidents/?view=open:a[href^='/incidents/'][href$='/']:not([href='/incidents/'])"),
    ("changes", "changemgr", "/changes/"),
    ("change", "changemgr", "first:/changes/?state=submitted:table a[href^='/changes/']"),
    ("change-calendar", "changemgr", "/changes/calendar/"),
    ("releases", "releasemgr", "/releases/"),
    ("release", "releasemgr", "first:/releases/:table a[href^='/releases/']"),
    ("release-calendar", "releasemgr", "/releases/calendar/"),
    ("dashboard", "opsmgr", "/metrics/"),
]

OVERFLOW = """() => {
  const doc = document.documentElement;
  const wide = [...document.querySelectorAll('table')].filter(t => {
    const box = t.parentElement.getBoundingClientRect();
    return t.getBoundingClientRect().width > box.width + 1;
  }).map(t => t.className);
  return {scroll: doc.scrollWidth > doc.clientWidth + 1, wide};
}"""


def passwords() -> dict[str, str]:
    found = {}
    path = ROOT / "var" / "demo-credentials.txt"
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            found[parts[0]] = parts[1]
    return found


def main(base: str, password_override: str | None = None) -> int:
    logins = passwords() if password_override is None else {}
    problems = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        contexts = {}
        for name, user, path in PAGES:
            for label, (width, height) in WIDTHS.items():
                key = (user, label)
                if key not in contexts:
                    context = browser.new_context(viewport={"width": width, "height": height}, base_url=base)
                    page = context.new_page()
                    page.goto("/login/")
                    page.fill("#id_username", user)
                    page.fill("#id_password", password_override or logins[user])
                    page.click("button[type=submit]")
                    page.wait_for_url(lambda url: "/login/" not in url)
                    contexts[key] = page
                page = contexts[key]
                if path.startswith("first:"):
                    _, listing, selector = path.split(":", 2)
                    page.goto(listing)
                    target = page.locator(selector).first.get_attribute("href")
                    page.goto(target)
                else:
                    page.goto(path)
                page.wait_for_load_state("networkidle")
                result = page.evaluate(OVERFLOW)
                if result["scroll"] or result["wide"]:
                    problems += 1
                    print(f"{name} at {width} px: sideways scroll={result['scroll']} wide tables={result['wide']}")
                page.screenshot(path=str(HERE / f"{name}-{width}.png"), full_page=label == "phone" or name != "queue")
        browser.close()
    return problems


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None) else 0)
