"""`scrapy check`, only looking: see investcrawl/commands/__init__.py."""

from scrapy.commands.check import Command as CheckCommand

from investcrawl.commands import LookingCommand


class Command(LookingCommand, CheckCommand):
    takes_spider = False
