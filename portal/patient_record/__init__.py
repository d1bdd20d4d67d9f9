"""The patient record for staff: a patient's details and their whole history with the clinic."""
