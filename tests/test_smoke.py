def test_health_answers_without_sign_in(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readiness_checks_database_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "redis": "ok"}
