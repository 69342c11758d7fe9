"""Crawling, the domain side: items, parsing helpers, site descriptions, storage.

The Scrapy project (scrapy_project/) drives these; nothing here imports Scrapy,
so the DAG and the dashboard can use them cheaply.
"""
