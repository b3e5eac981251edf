from django.http import Http404


def sample_request_create(request, number):
    """The sample-request form (issue: sample-PDF requests)."""
    raise Http404("Sample requests are not open yet.")


def enquiry_create(request, number):
    """The pre-order enquiry form (issue: pre-order enquiries)."""
    raise Http404("Enquiries are not open yet.")
