"""A browser for HTTP tests: follows links and submits forms found in the returned HTML.

It keeps cookies and history (the back button goes to an earlier URL and requests it again, as
a browser does with `Cache-Control: no-cache`), and builds form submissions from the form's
fields the way a browser does (successful controls only, the clicked submit button, files as
multipart parts).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import lxml.html
import requests


class Page:
    def __init__(self, browser: "Browser", response: requests.Response) -> None:
        self.browser = browser
        self.response = response
        self.url = response.url
        self.status = response.status_code
        self.text = response.text
        is_html = "html" in response.headers.get("content-type", "")
        self.tree = lxml.html.fromstring(response.content) if is_html and response.content.strip() else None

    def find(self, selector: str) -> Any:
        assert self.tree is not None, f"not an HTML page: {self.status} {self.text[:200]}"
        found = self.tree.cssselect(selector) if not selector.startswith("/") else self.tree.xpath(selector)
        assert found, f"no {selector!r} in {self.url}:\n{self.text[:2000]}"
        return found[0]

    def text_of(self, selector: str) -> str:
        return self.find(selector).text_content().strip()

    def click(self, selector: str) -> "Page":
        """Follow the link `selector` (CSS, or XPath starting with /)."""
        link = self.find(selector)
        return self.browser.get(urljoin(self.url, link.get("href")))

    def submit(self, form_selector: str = "form", fields: dict[str, Any] | None = None, button: str | None = None, files: dict[str, tuple[str, bytes]] | None = None) -> "Page":
        """Submit a form; `fields` and `files` are keyed by the id (or name) of the inputs."""
        form = self.find(form_selector)
        by_id = {el.get("id"): el.get("name") for el in form.iter("input", "textarea", "select") if el.get("id")}
        data: list[tuple[str, str]] = []
        for el in form.iter("input", "textarea", "select"):
            name, kind = el.get("name"), (el.get("type") or "text").lower()
            if not name or el.get("disabled") is not None or kind in ("submit", "image", "button", "reset", "file"):
                continue
            if kind in ("checkbox", "radio"):
                if el.get("checked") is not None:
                    data.append((name, el.get("value", "on")))
            elif el.tag == "select":
                for option in el.iter("option"):
                    if option.get("selected") is not None:
                        data.append((name, option.get("value", option.text or "")))
            elif el.tag == "textarea":
                data.append((name, el.text or ""))
            else:
                data.append((name, el.get("value", "")))
        for key, value in (fields or {}).items():
            name = by_id.get(key, key)
            data = [(n, v) for n, v in data if n != name]
            for v in value if isinstance(value, list) else [value]:
                data.append((name, v))
        if button is not None:
            el = form.cssselect(button)[0] if not button.startswith("/") else form.xpath(button)[0]
            if (el.get("type") or "").lower() == "image":
                data += [(el.get("name") + ".x", "1"), (el.get("name") + ".y", "1")]
            elif el.get("name"):  # a submit without a name is not sent
                data.append((el.get("name"), el.get("value", "")))
        multipart = {by_id.get(k, k): v for k, v in (files or {}).items()}
        for el in form.iter("input"):  # a file field left empty is sent as an empty part, as browsers do
            name = el.get("name")
            if (el.get("type") or "").lower() == "file" and name and el.get("disabled") is None and name not in multipart:
                multipart[name] = ("", b"")
        action = urljoin(self.url, form.get("action") or self.url)
        if (form.get("method") or "get").lower() == "post":
            parts = [(n, (None, v)) for n, v in data] + [(n, (fn, content)) for n, (fn, content) in multipart.items()]
            if (form.get("enctype") or "") == "multipart/form-data":
                return self.browser.request("POST", action, files=parts or [("_", (None, ""))])
            return self.browser.request("POST", action, data=data)
        return self.browser.request("GET", action, params=data)


class Browser:
    def __init__(self) -> None:
        self.session = requests.Session()
        self.history: list[str] = []

    def request(self, method: str, url: str, **kw: Any) -> Page:
        response = self.session.request(method, url, timeout=15, **kw)
        page = Page(self, response)
        self.history.append(page.url)
        return page

    def get(self, url: str, **kw: Any) -> Page:
        return self.request("GET", url, **kw)

    def back(self, steps: int = 1) -> Page:
        """Go back in history and reload that URL (what a browser does with no-cache pages)."""
        url = self.history[-1 - steps]
        del self.history[-steps:]
        response = self.session.get(url, timeout=15)
        return Page(self, response)
