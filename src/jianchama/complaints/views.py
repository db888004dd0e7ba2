"""Pages of the complaint ledger and reconsideration leads."""

urlpatterns: list = []
