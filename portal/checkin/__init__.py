"""Patient check-in: links by SMS/e-mail, identity check, demographics, travel-pay questions."""
