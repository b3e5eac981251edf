from django.urls import path

from . import views

app_name = "pages"

urlpatterns = []
for page, route in (("terms", "terms"), ("refunds", "refunds"), ("contact", "contact")):
    urlpatterns += [
        path(route, views.page_detail, {"page": page}, name=page),
        path(f"{route}/v<int:number>", views.page_detail, {"page": page}, name=f"{page}-version"),
    ]
urlpatterns += [
    path("about", views.page_detail, {"page": "about"}, name="about"),
    path("about/v<int:number>", views.page_detail, {"page": "about"}, name="about-version"),
]
