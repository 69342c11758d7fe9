"""The person in the loop: the decisions a reviewer makes, the queries behind each
dashboard page, the accounts, and the pictures the dashboard fetches and checks itself."""
