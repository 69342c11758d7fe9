"""WaggleBot's Scrapy project: one generic spider driven by the site descriptions."""
