"""Log lines that name a dropped article by its URL instead of printing all of it."""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy import logformatter


class LogFormatter(logformatter.LogFormatter):
    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any = None):
        return {
            "level": logging.WARNING,
            "msg": "Dropped %(url)s: %(exception)s",
            "args": {"url": ItemAdapter(item).get("url"), "exception": exception},
        }
