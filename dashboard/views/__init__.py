"""One Streamlit page per module; the queries behind each are wagglebot.review.queries."""
