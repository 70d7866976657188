"""`scrapy shell`, only looking: see investcrawl/commands/__init__.py."""

from scrapy.commands.shell import Command as ShellCommand

from investcrawl.commands import LookingCommand


class Command(LookingCommand, ShellCommand):
    takes_spider = False
