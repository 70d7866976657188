"""`scrapy view`, only looking: see investcrawl/commands/__init__.py."""

from scrapy.commands.view import Command as ViewCommand

from investcrawl.commands import LookingCommand


class Command(LookingCommand, ViewCommand):
    takes_spider = False
