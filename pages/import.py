import streamlit as st

st.title("Import")
st.info("This page is being built.")
