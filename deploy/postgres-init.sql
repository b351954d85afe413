-- First start of the postgres container: the API's database and Rasa's tracker store.
CREATE DATABASE coa;
CREATE DATABASE rasa;
