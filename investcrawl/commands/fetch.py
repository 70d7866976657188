"""`scrapy fetch`, only looking: see investcrawl/commands/__init__.py."""

from scrapy.commands.fetch import Command as FetchCommand

from investcrawl.commands import LookingCommand


class Command(LookingCommand, FetchCommand):
    takes_spider = False
